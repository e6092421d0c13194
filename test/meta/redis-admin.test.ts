import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { isFsError } from '../../src/errors/index.js';
import { openRedisEngine, RedisEngine } from '../../src/meta/engines/redis.js';
import { ROOT_INO, type OpContext } from '../../src/meta/types.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import { interpose, type Interposed } from './redis-interpose.js';

/**
 * The redis engine's admin records (volumes, tokens, sessions) against a real redis-server, with
 * a second engine on the same server playing "the other metadata server". A seam in the first
 * engine's client places the other server's action, or a crash, after each command of an admin
 * operation in turn; whatever the cut, the records must stay whole.
 */

const USER: OpContext = { uid: 1000, gid: 1000 };
const store = { url: 'file:///tmp/flexfs-unused' };
const MAX_STEPS = 30;

async function errno(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (e) { return isFsError(e) ? e.code : `non-FsError: ${String(e)}`; }
  return 'ok';
}

describe('redis engine: admin mutations are atomic', () => {
  let server: RedisServer;
  let raw: Redis;
  let seam: Interposed;
  let engine: RedisEngine;
  let other: RedisEngine;

  beforeAll(async () => {
    server = await startRedis();
    raw = new Redis(server.url);
    seam = interpose(raw);
    engine = new RedisEngine(seam.client);
    other = await openRedisEngine({ url: server.url });
  });
  afterAll(async () => {
    await other?.close();
    await engine?.close();
    await server?.stop();
  });

  const volumeKeyCount = async (): Promise<number> => (await raw.keys('{v:*')).length;

  it('createVolume: a crash after any of its steps leaves the name free or the volume whole', async () => {
    let steps = 0;
    for (let n = 1; n <= MAX_STEPS; n++) {
      const name = `crash-create-${n}`;
      seam.failFrom(n);
      const done = (await errno(engine.createVolume({ name, blockStore: store }))) === 'ok';
      seam.reset();
      const v = (await other.getVolume(name)) ?? await other.createVolume({ name, blockStore: store });
      expect((await other.volume(v.id).getattr(ROOT_INO, USER)).type).toBe('dir');
      expect((await other.volume(v.id).statfs(USER)).inodes).toBe(1);
      await other.deleteVolume(v.id);
      if (done) { steps = n; break; }
    }
    expect(steps).toBeGreaterThan(1);
  });

  it('createVolume: a taken name leaves no stray keys behind', async () => {
    await other.createVolume({ name: 'taken', blockStore: store });
    const before = await volumeKeyCount();
    expect(await errno(engine.createVolume({ name: 'taken', blockStore: store }))).toBe('EEXIST');
    expect(await volumeKeyCount()).toBe(before);
    await other.deleteVolume('taken');
  });

  it('deleteVolume: a crash after any of its steps leaves the volume whole, or gone with its name, tokens and sessions', async () => {
    let steps = 0;
    for (let n = 1; n <= MAX_STEPS; n++) {
      const name = `crash-delete-${n}`;
      const v = await other.createVolume({ name, blockStore: store });
      await other.volume(v.id).create(ROOT_INO, 'f', 0o644, USER);
      const t = await other.createToken({ volume: v.id });
      const sid = await other.openSession(v.id, { host: 'h', pid: 1 }, 30);
      seam.failFrom(n);
      const done = (await errno(engine.deleteVolume(name, true))) === 'ok';
      seam.reset();
      const still = await other.getVolume(name);
      if (still) {
        expect(still.id).toBe(v.id);
        expect((await other.volume(v.id).lookup(ROOT_INO, 'f', USER)).type).toBe('file');
        expect((await other.checkToken(t.secret))?.volumeId).toBe(v.id);
        await other.deleteVolume(v.id, true);
      } else {
        expect(await other.getVolume(v.id)).toBeNull();
        expect(await other.checkToken(t.secret)).toBeNull();
        expect((await other.listTokens()).map((x) => x.id)).not.toContain(t.id);
        expect((await other.listSessions()).map((s) => s.id)).not.toContain(sid);
        const again = await other.createVolume({ name, blockStore: store });
        expect(await errno(other.volume(again.id).lookup(ROOT_INO, 'f', USER))).toBe('ENOENT');
        await other.deleteVolume(again.id);
      }
      if (done) { steps = n; break; }
    }
    expect(steps).toBeGreaterThan(1);
  });

  it('heartbeat: an expiry by another server in between is not undone', async () => {
    const v = await other.createVolume({ name: 'hb', blockStore: store });
    let fired = 0;
    for (let n = 1; n <= MAX_STEPS; n++) {
      const sid = await other.openSession(v.id, { host: 'h', pid: 1 }, 30);
      const hook = seam.after(n, async () => { expect(await other.expireSessions(Date.now() + 31_000)).toBeGreaterThanOrEqual(1); });
      const alive = await engine.heartbeat(sid, 30);
      seam.reset();
      if (!hook.fired()) {
        expect(alive).toBe(true);
        await other.closeSession(sid);
        break;
      }
      fired++;
      expect((await other.listSessions()).map((s) => s.id)).not.toContain(sid);
      expect(await raw.zscore('{flexfs}:sessexp', sid)).toBeNull();
      expect(await other.heartbeat(sid, 30)).toBe(false);
    }
    expect(fired).toBeGreaterThan(0);
    await other.deleteVolume(v.id);
  });

  it('heartbeat: a session past its deadline is not extended', async () => {
    const v = await other.createVolume({ name: 'hb-late', blockStore: store });
    const sid = await other.openSession(v.id, { host: 'h', pid: 1 }, 0);
    await new Promise((r) => setTimeout(r, 5));
    expect(await engine.heartbeat(sid, 30)).toBe(false);
    expect(Number(await raw.zscore('{flexfs}:sessexp', sid))).toBeLessThan(Date.now());
    await other.deleteVolume(v.id);
  });

  it('revokeToken: a token deleted meanwhile (with its volume) is not written back', async () => {
    let fired = 0;
    for (let n = 1; n <= MAX_STEPS; n++) {
      const v = await other.createVolume({ name: `revoke-${n}`, blockStore: store });
      const t = await other.createToken({ volume: v.id, label: 'x' });
      const hook = seam.after(n, () => other.deleteVolume(v.id, true));
      const res = await errno(engine.revokeToken(t.id));
      seam.reset();
      if (!hook.fired()) {
        expect(res).toBe('ok');
        expect((await other.listTokens()).find((x) => x.id === t.id)?.revoked).toBe(true);
        expect(await other.checkToken(t.secret)).toBeNull();
        await other.deleteVolume(v.id);
        break;
      }
      fired++;
      expect(['ok', 'ENOENT']).toContain(res);
      expect((await other.listTokens()).map((x) => x.id)).not.toContain(t.id);
    }
    expect(fired).toBeGreaterThan(0);
  });

  it('openSession and createToken: a volume deleted meanwhile gets neither', async () => {
    let fired = 0;
    for (const what of ['session', 'token'] as const) {
      for (let n = 1; n <= MAX_STEPS; n++) {
        const v = await other.createVolume({ name: `late-${what}-${n}`, blockStore: store });
        const hook = seam.after(n, () => other.deleteVolume(v.id, true));
        const res = await errno(what === 'session'
          ? engine.openSession(v.id, { host: 'h', pid: 1 }, 30)
          : engine.createToken({ volume: v.name, label: 'late' }));
        seam.reset();
        if (!hook.fired()) {
          expect(res).toBe('ok');
          await other.deleteVolume(v.id, true);
          break;
        }
        fired++;
        expect(['ok', 'ENOENT']).toContain(res);
        expect((await other.listSessions()).filter((s) => s.volumeId === v.id)).toEqual([]);
        expect((await other.listTokens()).filter((t) => t.volumeId === v.id)).toEqual([]);
      }
    }
    expect(fired).toBeGreaterThan(1);
  });
});
