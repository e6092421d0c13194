import type { Logger } from 'pino';
import type { MetaEngine } from '../engine.js';
import { CloseCode } from '../protocol/index.js';
import type { Authenticator } from './auth.js';

/** What the sweep needs of an open RPC session (RpcSession). */
export interface SweptSession {
  readonly id: string;
  readonly token: string;
  /** ms timestamp the handshake finished; 0 while not serving. */
  readonly servingSince: number;
  markValid(epoch: number): void;
  close(code: number, reason: string): void;
}

/**
 * Closes open sessions whose token was revoked or whose session is gone, idle or not, so a socket
 * never outlives its access: every `intervalMs` (one heartbeat interval) and at once when the
 * Authenticator's epoch moves (this server revoked a token, deleted a volume, expired sessions).
 * One sweep costs one listSessions plus one token check per distinct token.
 */
export function startSessionSweep(opts: {
  engine: MetaEngine; auth: Authenticator; log: Logger; intervalMs: number;
  sessions: () => Iterable<SweptSession>;
}): { stop(): void; sweep(): Promise<void> } {
  const { engine, auth, log } = opts;
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;

  async function sweepOnce(): Promise<void> {
    const startedAt = Date.now();
    const epoch = auth.epoch;
    const open = [...opts.sessions()].filter((s) => s.servingSince > 0 && s.servingSince <= startedAt);
    if (open.length === 0) return;
    const live = new Set((await engine.listSessions()).filter((s) => s.expiresAt >= startedAt).map((s) => s.id));
    const tokenOk = new Map<string, Promise<true | 'expired' | 'invalid'>>();
    for (const s of open) {
      if (stopped) return;
      let ok = tokenOk.get(s.token);
      if (!ok) { ok = auth.verdict(s.token).then((v) => ('token' in v ? true : v.refused)); tokenOk.set(s.token, ok); }
      const verdict = await ok;
      if (verdict !== true) {
        const why = verdict === 'expired' ? 'token expired' : 'token revoked';
        log.info({ session: s.id }, `closing session: ${why}`);
        s.close(CloseCode.auth, why);
      } else if (!live.has(s.id)) {
        log.info({ session: s.id }, 'closing session: session expired');
        s.close(CloseCode.sessionExpired, 'session expired');
      } else {
        s.markValid(epoch);
      }
    }
  }

  function sweep(): Promise<void> {
    if (running) { again = true; return running; }
    running = (async () => {
      do {
        again = false;
        try { await sweepOnce(); } catch (e) { log.error({ err: String(e) }, 'session sweep failed'); }
      } while (again && !stopped);
    })().finally(() => { running = null; });
    return running;
  }

  const timer = setInterval(() => { void sweep(); }, opts.intervalMs);
  timer.unref();
  auth.onInvalidate(() => { if (!stopped) void sweep(); });
  return { stop() { stopped = true; clearInterval(timer); }, sweep };
}
