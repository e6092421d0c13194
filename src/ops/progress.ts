import type { GcProgress } from './gc.js';

/**
 * A one-line progress bar on a TTY (redrawn at most 10×/s); silent when the stream is not a TTY,
 * so scripts and logs get only the summary.
 */
export function progressBar(stream: NodeJS.WriteStream = process.stderr): { update(p: GcProgress): void; done(): void } {
  if (!stream.isTTY) return { update() {}, done() {} };
  let last = 0;
  let drawn = false;
  const labels = { queue: 'deleting queued blocks', scan: 'listing bucket', orphans: 'deleting orphans' } as const;
  return {
    update(p) {
      const t = Date.now();
      if (t - last < 100 && !(p.total !== undefined && p.done >= p.total)) return;
      last = t;
      let line = `${labels[p.phase]}: ${p.done}`;
      if (p.total) {
        const frac = Math.min(1, p.done / p.total);
        const width = 30;
        const fill = Math.round(frac * width);
        line = `${labels[p.phase]} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${p.done}/${p.total}`;
      }
      stream.write(`\r${line}\x1b[K`);
      drawn = true;
    },
    done() {
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}
