import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { openSqliteEngine } from '../../src/meta/engines/sqlite.js';
import { CloseCode, PROTOCOL_VERSION, packFrame } from '../../src/meta/protocol/index.js';
import { runCli } from './harness.js';
import { startDaemonEnv, type DaemonEnv } from './daemon-setup.js';
import { rawSocket, type RawSocket } from './raw-socket.js';

// --sessionTtl 12 → heartbeat interval 3 s: the server re-checks every open session that often.
// (Long enough that the never-heartbeating raw sockets below outlive a CLI run before they expire.)
const TTL_S = 12;
const HEARTBEAT_MS = (TTL_S * 1000) / 4;
const SLACK_MS = 2000; // a loaded CI machine; still far below "never" (today's behaviour)

/** Resolves with the close, or rejects when the server has not closed the socket by `ms`. */
function closedWithin(s: RawSocket, ms: number): Promise<{ code: number; reason: string }> {
  return Promise.race([s.closed, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms))]);
}

describe('a revoked token or an expired session gets nothing (real meta.flexfs daemon)', () => {
  let env: DaemonEnv;
  let volumeId: string;
  const hello = (token: string) => packFrame({ t: 'hello', v: PROTOCOL_VERSION, token, host: 'test', pid: 1 });
  const open = async (token: string): Promise<RawSocket> => {
    const s = await rawSocket(env.daemon.addr);
    s.ws.send(hello(token));
    expect(await s.next()).toMatchObject({ t: 'welcome' });
    return s;
  };
  beforeAll(async () => {
    env = await startDaemonEnv(['--sessionTtl', String(TTL_S)]);
    volumeId = (await env.admin.createVolume({ name: 'rv1', blockStore: { url: 's3://bucket/rv1' } })).id;
  });
  afterAll(async () => { await env?.daemon.stop(); await env?.cleanup(); });

  it('after "token revoke", settings (the bucket keys) is refused and idle sockets are closed by the server', async () => {
    const t = await env.admin.createToken({ volume: 'rv1' });
    const busy = await open(t.secret);
    const idle = await open(t.secret);
    busy.ws.send(packFrame({ id: 1, op: 'settings', args: [] }));
    expect(await busy.next()).toMatchObject({ id: 1, ok: { blockStore: { blockPass: 'daemon-bucket-secret' } } });

    const r = await runCli(['token', 'revoke', t.id, '--addr', `127.0.0.1:${env.daemon.port}`], { FLEXFS_HOME: env.home });
    expect(r.code, r.stderr).toBe(0);

    // whatever comes back (if anything) is not the settings
    busy.ws.send(packFrame({ id: 2, op: 'settings', args: [] }));
    const reply = await Promise.race([busy.next().catch(() => null), busy.closed.then(() => null)]);
    expect(JSON.stringify(reply ?? null)).not.toContain('daemon-bucket-secret');
    expect((await closedWithin(busy, HEARTBEAT_MS + SLACK_MS)).code).toBe(CloseCode.auth);
    // the idle socket never sent a thing after its hello
    expect((await closedWithin(idle, HEARTBEAT_MS + SLACK_MS)).code).toBe(CloseCode.auth);
  });

  it('a token revoked behind this server\'s back (another process on meta.db) closes its sockets within a heartbeat interval', async () => {
    const t = await env.admin.createToken({ volume: 'rv1' });
    const idle = await open(t.secret);
    const other = await openSqliteEngine({ file: join(env.dbFolder, 'meta.db') });
    try { await other.revokeToken(t.id); } finally { await other.close(); }
    // the sweep runs every heartbeat interval: one interval at the most
    expect((await closedWithin(idle, HEARTBEAT_MS + SLACK_MS)).code).toBe(CloseCode.auth);
  });

  it('settings re-checks every time: right after a revoke or a session end behind this server\'s back, no bucket keys', async () => {
    const settingsAfter = async (cut: (other: Awaited<ReturnType<typeof openSqliteEngine>>, sessionId: string, tokenId: string) => Promise<void>) => {
      const t = await env.admin.createToken({ volume: 'rv1' });
      const s = await rawSocket(env.daemon.addr);
      s.ws.send(hello(t.secret));
      const welcome = await s.next() as { sessionId: string };
      s.ws.send(packFrame({ id: 1, op: 'settings', args: [] }));
      expect(await s.next()).toMatchObject({ id: 1, ok: { blockStore: { blockPass: 'daemon-bucket-secret' } } });
      const other = await openSqliteEngine({ file: join(env.dbFolder, 'meta.db') });
      try { await cut(other, welcome.sessionId, t.id); } finally { await other.close(); }
      // at once, not after the next sweep or heartbeat interval
      s.ws.send(packFrame({ id: 2, op: 'settings', args: [] }));
      const reply = await Promise.race([s.next().catch(() => null), s.closed.then(() => null)]);
      expect(JSON.stringify(reply ?? null)).not.toContain('daemon-bucket-secret');
      return (await closedWithin(s, SLACK_MS)).code;
    };
    expect(await settingsAfter((o, _s, tokenId) => o.revokeToken(tokenId))).toBe(CloseCode.auth);
    expect(await settingsAfter((o, sessionId) => o.closeSession(sessionId))).toBe(CloseCode.sessionExpired);
  });

  it('a session that expired (no heartbeats) has its idle socket closed, not kept open by pings', async () => {
    const t = await env.admin.createToken({ volume: 'rv1' });
    const idle = await rawSocket(env.daemon.addr);
    idle.ws.send(hello(t.secret));
    const welcome = await idle.next() as { sessionId: string };
    // expired at TTL after its last sign of life; the sweep closes it within one interval after that
    const { code } = await closedWithin(idle, TTL_S * 1000 + HEARTBEAT_MS + SLACK_MS);
    expect(code).toBe(CloseCode.sessionExpired);
    // closed because its lease ran out (the row may linger until the next expiry pass)
    const sessions = await env.admin.request<Array<{ id: string; volumeId: string; expiresAt: number }>>('GET', '/v1/sessions');
    expect(sessions.filter((s) => s.id === welcome.sessionId && s.volumeId === volumeId && s.expiresAt >= Date.now())).toEqual([]);
  });
});
