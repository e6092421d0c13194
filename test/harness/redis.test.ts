import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from './redis.js';

/** The harness's restart(): same port and data folder, so writes survive through the append-only file. */
describe('test/harness/redis restart', () => {
  let server: RedisServer | undefined;
  afterAll(async () => { await server?.stop(); });

  const withClient = async <T>(url: string, fn: (r: Redis) => Promise<T>): Promise<T> => {
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    r.on('error', () => undefined); // the refused connection after kill9() is expected and asserted
    await r.connect();
    try { return await fn(r); } finally { r.disconnect(); }
  };

  it('keeps acknowledged writes across kill9() + restart() and across a graceful restart()', async () => {
    server = await startRedis({ appendfsync: 'always' });
    const url = server.url;
    await withClient(url, (r) => r.set('k1', 'before-crash'));
    await server.kill9();
    await expect(withClient(url, (r) => r.ping())).rejects.toThrow();
    await server.restart();
    expect(await withClient(url, (r) => r.get('k1'))).toBe('before-crash');

    await withClient(url, (r) => r.set('k2', 'before-restart'));
    await server.restart(); // running server: SIGTERM first, then start again
    expect(await withClient(url, (r) => r.mget('k1', 'k2'))).toEqual(['before-crash', 'before-restart']);
    expect(server.url).toBe(url);
  });
});
