import { FsError } from '../../errors/index.js';

/**
 * The instants a volume can be seen at (docs/METADATA.md "History"): from the later of when its
 * history started and now − retention (older records are pruned by gc and older blocks deleted),
 * to now.
 */
export interface HistoryWindow {
  from: number;
  to: number;
}

export function historyWindow(startedAt: number | null, retentionSeconds: number, now = Date.now()): HistoryWindow {
  return { from: Math.max(startedAt ?? now, now - retentionSeconds * 1000), to: now };
}

export function describeWindow(w: HistoryWindow): string {
  return `${new Date(w.from).toISOString()} … ${new Date(w.to).toISOString()}`;
}

/** EINVAL naming the window when `at` is outside it. */
export function checkInWindow(at: number, w: HistoryWindow, volume: string): void {
  if (!Number.isFinite(at) || at < w.from || at > w.to) {
    const when = Number.isFinite(at) ? new Date(at).toISOString() : String(at);
    throw new FsError('EINVAL', `volume "${volume}" can be seen as of ${describeWindow(w)} only (its history window; ${when} is outside it): pick a time inside it`);
  }
}

/** Parse an `--atTime` / `atTime=` value: an ISO 8601 time with a zone (2026-12-04T10:00:00Z) or ms since the epoch. */
export function parseAtTime(text: string, what = '--atTime'): number {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(t)) {
    throw new Error(`${what} "${text}": use an ISO 8601 time with a zone, e.g. 2026-12-04T10:00:00Z`);
  }
  const ms = Date.parse(t);
  if (!Number.isFinite(ms)) throw new Error(`${what} "${text}" is not a valid time: use e.g. 2026-12-04T10:00:00Z`);
  return ms;
}
