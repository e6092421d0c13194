import { afterAll, describe, expect, it } from 'vitest';
import { isFsError } from '../../src/errors/index.js';
import { decodeInode, encodeInode } from '../../src/meta/core/rules.js';
import { openEngine } from '../../src/meta/engines/index.js';
import { openRedisEngine, type RedisEngine } from '../../src/meta/engines/redis.js';
import { ADMIN, volumeKeys } from '../../src/meta/engines/redis-keys.js';
import { ROOT_INO, type MetaStore, type OpContext } from '../../src/meta/types.js';
import { join } from 'node:path';
import { writeCreds } from '../../src/config/creds.js';
import { fsckCommand } from '../../src/cli/meta/fsck.js';
import { tempDir, waitFor } from '../harness/ports.js';
import { MASTER, startRedisSentinel, type RedisSentinel } from '../harness/redis-sentinel.js';
import { connectMeta } from '../../src/meta/client/index.js';
import { startDaemonEnv } from '../meta-server/daemon-setup.js';
import { engineOpenAt, runMetaStoreConformance } from './conformance.js';
import { runEngineSuite } from './engine-suite.js';

/**
 * The redis engine on Redis Sentinel (test/harness/redis-sentinel.ts: a primary, a replica,
 * three Sentinels): the MetaStore conformance and MetaEngine suites through a redis+sentinel://
 * URL (every mutation WAITs for the replica), then kill -9 of the primary under load.
 * One deployment serves the whole file; each suite empties it when done.
 */

const USER: OpContext = { uid: 1000, gid: 1000 };
/** A failover test's own bound: its waits (load, failover, the node back, load again) end sooner. */
const FAILOVER_TEST_MS = 180_000;
const store = { url: 'file:///tmp/flexfs-unused' };

let started: Promise<RedisSentinel> | undefined;
const sentinel = (): Promise<RedisSentinel> => (started ??= startRedisSentinel());
afterAll(async () => { await (await started?.catch(() => undefined))?.stop(); });

async function open(s: RedisSentinel, query = ''): Promise<RedisEngine> {
  return openRedisEngine({ url: `${s.url}${query}`, password: s.password, sentinelPassword: s.sentinelPassword });
}

/** Every name in a directory, page by page. */
async function listNames(m: MetaStore, dir: number): Promise<Set<string>> {
  const names = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await m.readdir(dir, USER, cursor, 1000);
    for (const en of page.entries) names.add(en.name);
    cursor = page.next;
  } while (cursor);
  return names;
}

async function flush(s: RedisSentinel): Promise<void> {
  await s.node(await s.primaryPort()).flushall();
}

runMetaStoreConformance('redis sentinel', async () => {
  const s = await sentinel();
  const engine = await open(s);
  const vol = await engine.createVolume({ name: 'conf', blockSize: 256 * 1024, blockStore: store });
  return { store: engine.volume(vol.id), engine, openAt: engineOpenAt(engine, vol.id), cleanup: async () => { await engine.close(); await flush(s); } };
});

runEngineSuite('redis sentinel', async () => {
  const s = await sentinel();
  const engine = await open(s);
  const raw = s.node(await s.primaryPort());
  return {
    engine,
    dropInodeRecord: async (vol, ino) => { await raw.del(volumeKeys(vol).inode(ino)); },
    setNlink: async (vol, ino, nlink) => {
      const key = volumeKeys(vol).inode(ino);
      const rec = decodeInode((await raw.get(key))!);
      await raw.set(key, encodeInode({ ...rec, nlink }));
    },
    cleanup: async () => { await engine.close(); await flush(s); },
  };
});

describe('redis+sentinel:// connection and passwords', () => {
  it('opens through openEngine with both passwords from the spec; a wrong one fails without showing it', async () => {
    const s = await sentinel();
    const e = await openEngine({ engine: s.url, redisPassword: s.password, redisSentinelPassword: s.sentinelPassword });
    try {
      expect(e.kind).toBe('redis');
      await e.createVolume({ name: 'via-open-engine', blockStore: store });
      // the write went to the primary and, before it was acknowledged, to the replica
      const primary = await s.primaryPort();
      const replica = s.dataPorts.find((p) => p !== primary)!;
      expect(await s.node(replica).hlen(ADMIN.volumes)).toBe(1);
      await e.deleteVolume('via-open-engine');
    } finally { await e.close(); }
    const wrong = 'not-the-password-hunter2';
    const err = await openEngine({ engine: s.url, redisPassword: s.password, redisSentinelPassword: wrong }).then(() => undefined, (x: Error) => x);
    expect(err?.message).toMatch(/cannot reach redis sentinel at redis\+sentinel:\/\/127\.0\.0\.1:.*WRONGPASS.*redisSentinelPassword/);
    for (const secret of [wrong, s.password, s.sentinelPassword]) expect(err?.message).not.toContain(secret);
    const unknown = await openEngine({ engine: s.url.replace(MASTER, 'no-such-master'), redisPassword: s.password, redisSentinelPassword: s.sentinelPassword })
      .then(() => undefined, (x: Error) => x);
    expect(unknown?.message).toMatch(/cannot reach redis sentinel.*no Sentinel monitors a master of that name/);
  });

  it('with minReplicas above the replicas there are, a mutation answers EIO instead of being acknowledged', async () => {
    const s = await sentinel();
    const e = await open(s, '?minReplicas=2&replicaWaitMs=200');
    try {
      const err = await e.createVolume({ name: 'needs-two', blockStore: store }).then(() => undefined, (x: unknown) => x);
      expect(isFsError(err) && err.code).toBe('EIO');
      expect(String((err as Error).message)).toMatch(/only 1 of 2 replica\(s\) confirmed/);
    } finally { await e.close(); await flush(s); }
  });
});

describe('admin jobs on redis+sentinel://', () => {
  it('meta.flexfs fsck takes the sentinel URL and both passwords from its --credsFile', async () => {
    const s = await sentinel();
    const dir = await tempDir('flexfs-sentinel-fsck-');
    const e = await open(s);
    try {
      await e.createVolume({ name: 'checked', blockStore: { url: `file://${dir.path}/blocks` } });
      const credsFile = join(dir.path, 'creds');
      await writeCreds(credsFile, { redisPassword: s.password, redisSentinelPassword: s.sentinelPassword });
      const out: string[] = [];
      const code = await fsckCommand(['checked'], { engine: s.url, credsFile, orphanAge: '24h' }, { write: (t: string) => out.push(t) });
      expect(out.join('')).toMatch(/volume checked: OK/);
      expect(code).toBe(0);
      // without the Sentinels' password the job cannot start, and says which key to check
      await writeCreds(credsFile, { redisPassword: s.password });
      await expect(fsckCommand(['checked'], { engine: s.url, credsFile, orphanAge: '24h' }, { write: () => undefined }))
        .rejects.toThrow(/cannot reach redis sentinel.*redisSentinelPassword/);
    } finally {
      await e.close();
      await flush(s);
      await dir.cleanup();
    }
  });
});

describe('redis engine on Sentinel: a switchover under load', () => {
  it('the old primary demoted while running (its writes answer READONLY): the engine follows the Sentinels to the new one; nothing acknowledged is lost', async () => {
    const s = await sentinel();
    const engine = await open(s, '?replicaWaitMs=500&failoverWaitMs=20000');
    try {
      const vol = await engine.createVolume({ name: 'switchover', blockStore: store });
      const m = engine.volume(vol.id);
      const acked: string[] = [];
      const unclean: string[] = [];
      let stop = false;
      const workers = [0, 1, 2].map(async (w) => {
        for (let i = 0; !stop; i++) {
          const name = `s${w}-${i}`;
          try {
            await m.create(ROOT_INO, name, 0o644, { ...USER, opId: `sw-${name}` });
            acked.push(name);
          } catch (e) {
            if (!(isFsError(e) && e.code === 'EIO')) unclean.push(`${name}: ${String(e)}`);
          }
        }
      });
      await waitFor(() => acked.length >= 30, 30_000, '30 creates before the switchover', 20);
      const old = await s.primaryPort();
      const promoted = await s.switchover();
      expect(promoted).not.toBe(old);
      const target = acked.length + 30;
      await waitFor(() => acked.length >= target, 40_000, '30 creates on the new primary', 50);
      stop = true;
      await Promise.all(workers);
      expect(unclean).toEqual([]);
      const names = await listNames(m, ROOT_INO);
      expect(acked.filter((n) => !names.has(n))).toEqual([]);
      // the listing came from the new primary, and the demoted one holds the same (it replicates)
      expect(await s.node(promoted).exists(volumeKeys(vol.id).counters)).toBe(1);
      expect(await s.node(old).exists(volumeKeys(vol.id).counters)).toBe(1);
    } finally {
      await engine.close();
    }
  }, FAILOVER_TEST_MS);
});

describe('redis engine on Sentinel: kill -9 of the primary under load', () => {
  it('follows the promoted replica; every acknowledged create is there afterwards; the rest failed cleanly', async () => {
    const s = await sentinel();
    // short waits so the phase without any replica (old primary dead, not yet back) fails fast
    const engine = await open(s, '?replicaWaitMs=500&failoverWaitMs=20000');
    try {
      const vol = await engine.createVolume({ name: 'failover', blockStore: store });
      const m = engine.volume(vol.id);
      const dir = await m.mkdir(ROOT_INO, 'load', 0o755, USER);

      const acked: string[] = [];
      const failed = new Map<string, number>();  // by errno
      const unclean: string[] = [];
      let phase: 'before' | 'failing' | 'restored' = 'before';
      const ackedIn = { before: 0, failing: 0, restored: 0 };
      let stop = false;
      const worker = async (w: number) => {
        for (let i = 0; !stop; i++) {
          const name = `w${w}-${i}`;
          const at = phase;
          try {
            // with an opId, as mounts send: a re-run after a reconnect finds its first run's record
            await m.create(dir.ino, name, 0o644, { ...USER, opId: `op-${name}` });
            acked.push(name);
            ackedIn[at]++;
          } catch (e) {
            // EIO: no primary in time, or too few replicas confirmed (not acknowledged)
            if (isFsError(e) && e.code === 'EIO') failed.set(e.code, (failed.get(e.code) ?? 0) + 1);
            else unclean.push(`${name}: ${String(e)}`);
          }
        }
      };
      const workers = [0, 1, 2, 3].map(worker);

      await waitFor(() => acked.length >= 40, 30_000, '40 creates before the kill', 20);
      const old = await s.kill9Primary();
      phase = 'failing';
      const promoted = await s.waitForFailover(old);
      expect(promoted).not.toBe(old);
      // the old primary comes back as a replica of the promoted one: WAIT can succeed again
      await s.restart(old);
      phase = 'restored';
      const before = acked.length;
      await waitFor(() => acked.length >= before + 40, 40_000, '40 creates on the promoted primary', 50);
      stop = true;
      await Promise.all(workers);

      expect(unclean).toEqual([]);
      expect(ackedIn.before).toBeGreaterThanOrEqual(40);
      expect(ackedIn.restored).toBeGreaterThanOrEqual(1);
      // every acknowledged create is in the listing the promoted primary serves
      const names = await listNames(m, dir.ino);
      expect(acked.filter((n) => !names.has(n))).toEqual([]);
      expect(await s.primaryPort()).toBe(promoted);
      expect(await engine.checkNamespace(vol.id)).toEqual([]);
    } finally {
      await engine.close();
    }
  }, FAILOVER_TEST_MS);
});

describe('meta.flexfs on redis+sentinel://: kill -9 of the primary under load from a client', () => {
  it('the server follows the promoted replica; every create a client had acknowledged is there; none came back EEXIST', async () => {
    const s = await sentinel();
    // both passwords reach meta.flexfs through its creds file only; the URL in argv has none
    const env = await startDaemonEnv(['--engine', `${s.url}?replicaWaitMs=500&failoverWaitMs=20000`],
      { redisPassword: s.password, redisSentinelPassword: s.sentinelPassword });
    try {
      expect(env.daemon.output()).not.toContain(s.password);
      await env.admin.createVolume({ name: 'sentinel-load', blockStore: store });
      const token = (await env.admin.createToken({ volume: 'sentinel-load' })).secret;
      const connect = () => connectMeta({ addr: `127.0.0.1:${env.daemon.port}`, token, tls: { ca: env.certPath }, callTimeoutMs: 30_000 });
      const session = await connect();
      const acked: string[] = [];
      const errors: string[] = [];
      let stop = false;
      const workers = [0, 1, 2, 3].map(async (w) => {
        for (let i = 0; !stop; i++) {
          const name = `c${w}-${i}`;
          try {
            await session.store.create(ROOT_INO, name, 0o100644, USER);
            acked.push(name);
          } catch (e) {
            errors.push(`${name}: ${isFsError(e) ? e.code : 'not an FsError'}: ${(e as Error).message}`);
          }
        }
      });
      try {
        await waitFor(() => acked.length >= 40, 30_000, '40 acknowledged creates before the kill', 20);
        const old = await s.kill9Primary();
        await s.waitForFailover(old);
        await s.restart(old);
        const target = acked.length + 40;
        await waitFor(() => acked.length >= target, 40_000, '40 more acknowledged creates after the failover', 50);
      } catch (e) {
        throw new Error(`${(e as Error).message}; ${acked.length} acknowledged, ${errors.length} failed, the last: `
          + `${errors.slice(-5).join(' | ')}\n--- meta.flexfs output ---\n${env.daemon.output().slice(-3000)}`);
      } finally {
        stop = true;
        await Promise.all(workers);
        await session.close();
      }
      // what failed failed as EIO (never acknowledged); the client's retries carry opIds: no EEXIST
      expect(errors.filter((e) => !/: EIO: /.test(e))).toEqual([]);
      const check = await connect();
      try {
        const names = await listNames(check.store, ROOT_INO);
        expect(acked.filter((n) => !names.has(n))).toEqual([]);
      } finally { await check.close(); }
      expect(env.daemon.output()).not.toContain(s.sentinelPassword);
    } finally {
      await env.cleanup();
    }
  }, FAILOVER_TEST_MS);
});
