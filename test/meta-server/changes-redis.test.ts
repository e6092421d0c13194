import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMeta, type MetaSession } from '../../src/meta/client/index.js';
import { openRedisEngine, type RedisEngine } from '../../src/meta/engines/redis.js';
import { startMetaServer, type MetaServer } from '../../src/meta/server/index.js';
import { ROOT_INO, type Changes } from '../../src/meta/types.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import { waitFor } from '../harness/ports.js';

const ctx = { uid: 0, gid: 0 };

/**
 * Coherent caching across meta.flexfs servers: two servers (each its own engine connection, as
 * two daemons would have) on one real redis-server. A session on one server changes the volume;
 * a watching session on the other hears it through redis pub/sub. A pub/sub connection that
 * drops and comes back tells the watchers they may have missed changes.
 */
describe('changes across two meta.flexfs servers sharing one redis', () => {
  let redis: RedisServer;
  const engines: RedisEngine[] = [];
  const servers: MetaServer[] = [];
  let token = '';
  let writer: MetaSession;
  let watcher: MetaSession;
  const heard: (Changes | null)[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    for (let i = 0; i < 2; i++) {
      const engine = await openRedisEngine({ url: redis.url });
      engines.push(engine);
      servers.push(await startMetaServer({ engine, bindAddr: '127.0.0.1:0', tls: null, sessionTtlSeconds: 30 }));
    }
    await engines[0].createVolume({ name: 'vol', blockStore: { url: 'file:///tmp/unused-blocks', credentials: 'static' } });
    token = (await engines[0].createToken({ volume: (await engines[0].getVolume('vol'))!.id })).secret;
    writer = await connectMeta({ addr: servers[0].url, token, watch: true });
    watcher = await connectMeta({ addr: servers[1].url, token, watch: true });
    watcher.store.watch!((c) => heard.push(c));
  }, 60_000);

  afterAll(async () => {
    await writer?.close();
    await watcher?.close();
    for (const s of servers) await s.close().catch(() => undefined);
    for (const e of engines) await e.close().catch(() => undefined);
    await redis?.stop();
  });

  it('a mutation on one server reaches the watching session on the other', async () => {
    const d = await writer.store.mkdir(ROOT_INO, 'across', 0o40755, ctx);
    await writer.store.setattr(d.ino, { mode: 0o40700 }, ctx);
    await waitFor(() => (heard.some((c) => c?.a.includes(d.ino)) ? true : null), 5000, 'the setattr from the other server', 20);
    expect(heard.some((c) => c?.e.some(([p, n]) => p === ROOT_INO && n === 'across'))).toBe(true);
    // and the writer's own server does not echo its session's change back to it
    const mine: (Changes | null)[] = [];
    const stop = writer.store.watch!((c) => mine.push(c));
    await writer.store.rmdir(ROOT_INO, 'across', ctx);
    await waitFor(() => (heard.some((c) => c?.e.some(([, n]) => n === 'across') && c.a.includes(ROOT_INO) && c.a.length === 1) ? true : null), 5000, 'the rmdir', 20);
    expect(mine).toEqual([]);
    stop();
  });

  it('when redis restarts, watchers are told they may have missed changes', async () => {
    heard.length = 0;
    await redis.restart();
    await waitFor(() => (heard.includes(null) ? true : null), 20_000, 'the reset after the bus reconnected', 50);
  });
});
