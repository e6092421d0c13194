/**
 * ProxyGroupStore against the ObjectStore conformance suite: a loopback group of two real proxy
 * servers (TLS, pinned by fingerprint, in this process) over a file:// bucket. The proxies run
 * with `anyKey` and accept any body, since the suite stores arbitrary keys and bytes (the codec
 * check of block frames is covered in proxy.test.ts and group-local.test.ts). The one contract
 * point a group keeps differently: a deleted object may still be served from a proxy's cache.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tempDir } from '../harness/ports.js';
import { DiskFrameCache, hashedLayout } from '../../src/cache/disk.js';
import { ProxyGroupStore, type ProxyGroupStats } from '../../src/proxy/group.js';
import { createProxyServer, type ProxyServer } from '../../src/proxy/server.js';
import { loadOrCreateTls } from '../../src/proxy/tls.js';
import { FileObjectStore } from '../../src/store/index.js';
import { runObjectStoreConformance } from '../store/conformance.js';

let seen: { stats: ProxyGroupStats; proxies: string[] } | undefined;

runObjectStoreConformance('proxy group (2 loopback proxies over file://)', async () => {
  const dir = await tempDir('flexfs-group-conf-');
  const bucket = join(dir.path, 'bucket');
  const token = randomBytes(16).toString('hex');
  const tls = await loadOrCreateTls({ folder: join(dir.path, 'tls') });
  const servers: ProxyServer[] = [];
  const proxies: string[] = [];
  for (const name of ['p1', 'p2']) {
    const cache = await DiskFrameCache.open(join(dir.path, name), 64 << 20, { layout: hashedLayout });
    const s = createProxyServer({
      upstream: new FileObjectStore(bucket), cache, token, tls, anyKey: true, verify: async () => {}, processMetrics: false,
    });
    servers.push(s);
    proxies.push(`127.0.0.1:${(await s.listen('127.0.0.1', 0)).port}`);
  }
  const store = new ProxyGroupStore({ proxies, token, direct: new FileObjectStore(bucket), tls: { fingerprint256: tls.fingerprint256 } });
  return {
    store,
    async cleanup() {
      seen = { stats: structuredClone(store.stats), proxies };
      await Promise.allSettled(servers.map((s) => s.close()));
      await dir.cleanup();
    },
  };
}, { getAfterDeleteIsNotFound: false });

describe('proxy group conformance run', () => {
  it('carried gets and puts through both proxies, not around them', () => {
    expect(seen, 'the conformance suite ran').toBeDefined();
    const { stats, proxies } = seen!;
    for (const p of proxies) expect(stats.byProxy[p]).toBeGreaterThan(0);
    // Only the invalid keys (refused by the proxies with 400) go straight to the bucket.
    expect(stats.direct).toBeLessThanOrEqual(7);
  });
});
