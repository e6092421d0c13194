import { afterAll, describe, expect, it } from 'vitest';
import { connectMeta, type MetaSession } from '../../src/meta/client/index.js';
import { ROOT_INO, type MetaStore } from '../../src/meta/types.js';
import { waitFor } from '../harness/ports.js';
import { startRedis } from '../harness/redis.js';
import { startDaemonEnv, type DaemonEnv } from './daemon-setup.js';

const ctx = { uid: 0, gid: 0 };
const WORKERS = 6;

/** Streams of creates from one client; every acknowledged name is recorded. */
function startStreams(store: MetaStore) {
  const acked: string[] = [];
  const errors: string[] = [];
  let stop = false;
  const workers = Array.from({ length: WORKERS }, async (_, w) => {
    for (let i = 0; !stop; i++) {
      const name = `w${w}-${i}`;
      try {
        await store.create(ROOT_INO, name, 0o100644, ctx);
        acked.push(name);
      } catch (e) {
        errors.push(`${name}: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });
  return { acked, errors, async finish() { stop = true; await Promise.all(workers); } };
}

async function listAll(store: MetaStore): Promise<Set<string>> {
  const names = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await store.readdir(ROOT_INO, ctx, cursor, 1000);
    for (const e of page.entries) names.add(e.name);
    cursor = page.next;
  } while (cursor);
  return names;
}

async function volumeAndToken(env: DaemonEnv): Promise<string> {
  await env.admin.createVolume({ name: 'dur', blockStore: { url: 'file:///tmp/unused' } });
  return (await env.admin.createToken({ volume: 'dur' })).secret;
}

describe('durability: kill -9 meta.flexfs mid-stream loses no acknowledged mutation', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => { for (const c of cleanups.reverse()) await c().catch(() => undefined); });

  async function run(env: DaemonEnv, crash: (atAcks: number) => Promise<void>): Promise<void> {
    const token = await volumeAndToken(env);
    const connect = () => connectMeta({ addr: `127.0.0.1:${env.daemon.port}`, token, tls: { ca: env.certPath }, callTimeoutMs: 30_000 });
    const session: MetaSession = await connect();
    cleanups.push(() => session.close());
    const s = startStreams(session.store);
    try {
      await waitFor(() => s.acked.length >= 150, 30_000, '150 acknowledged creates');
      const atCrash = s.acked.length;
      await crash(atCrash);
      // the same client keeps streaming across the crash: it reconnects and retries with opIds
      const target = Math.max(atCrash + 100, s.acked.length + 50);
      await waitFor(() => s.acked.length >= target, 45_000, 'more acknowledged creates after the restart');
    } finally {
      await s.finish();
    }
    const check = await connect();
    try {
      const names = await listAll(check.store);
      const missing = s.acked.filter((n) => !names.has(n));
      expect(missing).toEqual([]);
      expect(s.acked.length).toBeGreaterThanOrEqual(250);
      // retries after reconnect carry their opId: none may come back as EEXIST
      expect(s.errors.filter((e) => /EEXIST/.test(e))).toEqual([]);
      if (process.env.FLEXFS_TEST_VERBOSE) console.log(`acked ${s.acked.length}, errors ${s.errors.length}`, s.errors.slice(0, 5));
    } finally {
      await check.close();
    }
  }

  it('sqlite with --sync', async () => {
    const env = await startDaemonEnv(['--sync']);
    cleanups.push(() => env.cleanup());
    await run(env, async () => {
      await env.daemon.kill9();
      await env.restart();
    });
  });

  it('redis with appendfsync always: kill -9 the server, then kill -9 redis', async () => {
    // A password-protected redis: the password reaches meta.flexfs through its creds file only.
    const redis = await startRedis({ appendfsync: 'always', password: 'redis-pw-for-durability' });
    cleanups.push(() => redis.stop());
    const env = await startDaemonEnv(['--engine', redis.url], { redisPassword: 'redis-pw-for-durability' });
    cleanups.push(() => env.cleanup());
    await run(env, async () => {
      await env.daemon.kill9();
      await env.restart();
      await new Promise((r) => setTimeout(r, 300));
      await redis.kill9();
      await redis.restart();
    });
  });
});
