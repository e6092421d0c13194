/**
 * ProxyGroupStore against in-process proxy servers over a real file:// bucket: plain HTTP,
 * certificate pinning by fingerprint, wrong pins and wrong tokens falling back to the bucket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tempDir } from '../harness/ports.js';
import { createCodec } from '../../src/codec/index.js';
import { DiskFrameCache, hashedLayout } from '../../src/cache/disk.js';
import { ProxyGroupStore } from '../../src/proxy/group.js';
import { openProxyGroup } from '../../src/proxy/index.js';
import { createProxyServer, type ProxyServer } from '../../src/proxy/server.js';
import { loadOrCreateTls } from '../../src/proxy/tls.js';
import { blockKey, FileObjectStore, type ObjectStore } from '../../src/store/index.js';

describe('proxy group against in-process proxies', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  const codec = createCodec({ compression: 'lz4', workers: 0 });
  const token = randomBytes(16).toString('hex');
  let bucket: ObjectStore;
  let tlsServer: ProxyServer;
  let plainServer: ProxyServer;
  let tlsAddr: string;
  let plainAddr: string;
  let fingerprint: string;
  let caPem: string;

  async function server(name: string, tls: { cert: string; key: string } | null): Promise<[ProxyServer, string]> {
    const cache = await DiskFrameCache.open(join(dir.path, name), 64 << 20, { layout: hashedLayout });
    const s = createProxyServer({ upstream: bucket, cache, token, tls, verify: (k, f) => codec.verify(k, f), processMetrics: false });
    const a = await s.listen('127.0.0.1', 0);
    return [s, `127.0.0.1:${a.port}`];
  }

  beforeAll(async () => {
    dir = await tempDir('flexfs-proxy-group-');
    bucket = new FileObjectStore(join(dir.path, 'bucket'));
    const tls = await loadOrCreateTls({ folder: join(dir.path, 'tls') });
    fingerprint = tls.fingerprint256;
    caPem = tls.cert;
    [tlsServer, tlsAddr] = await server('c1', tls);
    [plainServer, plainAddr] = await server('c2', null);
  });
  afterAll(async () => {
    await Promise.allSettled([tlsServer?.close(), plainServer?.close(), codec.close()]);
    await dir?.cleanup();
  });

  async function frame(): Promise<{ key: string; frame: Buffer }> {
    const id = Math.floor(Math.random() * 1e9);
    const key = blockKey('gvol', 1, 0, id);
    return { key, frame: await codec.encode(key, randomBytes(20_000)) };
  }

  it('works over plain HTTP (--noSSL) and with a pinned fingerprint', async () => {
    const plain = new ProxyGroupStore({ proxies: [plainAddr], token, direct: new FileObjectStore(join(dir.path, 'bucket')), noSSL: true });
    const pinned = new ProxyGroupStore({ proxies: [tlsAddr], token, direct: new FileObjectStore(join(dir.path, 'bucket')), tls: { fingerprint256: fingerprint } });
    try {
      for (const g of [plain, pinned]) {
        const b = await frame();
        await g.put(b.key, b.frame);
        expect((await g.get(b.key)).equals(b.frame)).toBe(true);
        expect(g.stats.direct).toBe(0);
        expect(Object.values(g.stats.byProxy)[0]).toBe(2);
      }
    } finally {
      await Promise.all([plain.close(), pinned.close()]);
    }
  });

  it('a wrong pin, an unknown CA or a wrong token falls back to the bucket and cools the proxy down', async () => {
    const b = await frame();
    await bucket.put(b.key, b.frame);
    const events: string[] = [];
    const reasons: string[] = [];
    const onProxyEvent = (e: { state: string; reason?: string }) => { events.push(e.state); reasons.push(e.reason ?? ''); };
    const wrongPin = 'aa'.repeat(32); // accepted without colons, in lower case
    const variants = [
      new ProxyGroupStore({ proxies: [tlsAddr], token, direct: new FileObjectStore(join(dir.path, 'bucket')), tls: { fingerprint256: wrongPin }, onProxyEvent }),
      new ProxyGroupStore({ proxies: [tlsAddr], token, direct: new FileObjectStore(join(dir.path, 'bucket')), onProxyEvent }),
      new ProxyGroupStore({ proxies: [tlsAddr], token: 'wrong', direct: new FileObjectStore(join(dir.path, 'bucket')), tls: { ca: caPem }, onProxyEvent }),
    ];
    try {
      const served = async () => (await tlsServer.metrics.requests.get()).values.reduce((n, v) => n + v.value, 0);
      for (const [i, g] of variants.entries()) {
        const before = await served();
        expect((await g.get(b.key)).equals(b.frame)).toBe(true);
        // A mismatched pin or unknown CA stops before any request (and its token) is sent.
        if (i < 2) expect(await served()).toBe(before);
        else expect(await served()).toBe(before + 1);
        expect(g.stats.direct).toBe(1);
        expect(g.candidates(b.key)).toEqual([]); // cooling down
      }
      expect(events).toEqual(['down', 'down', 'down']);
      // The operator learns which certificate the proxy shows and the flag that pins it.
      expect(reasons[0]).toContain(`presented a certificate with SHA-256 fingerprint ${fingerprint}, not the pinned ${'AA:'.repeat(31)}AA`);
      expect(reasons[1]).toContain(`its SHA-256 fingerprint is ${fingerprint}`);
      expect(reasons[1]).toContain(`--proxyFingerprint ${fingerprint}`);
      expect(reasons[1]).toContain(`--proxyTrustOnFirstUse ${tlsAddr}`);
    } finally {
      await Promise.all(variants.map((g) => g.close()));
    }
  });

  it('openProxyGroup reads the mount creds fields and refuses a missing token', async () => {
    const { writeFile } = await import('node:fs/promises');
    const caFile = join(dir.path, 'proxy-ca.pem');
    await writeFile(caFile, caPem);
    await expect(openProxyGroup({ proxies: tlsAddr, direct: bucket, creds: {}, credsFile: '/x/creds' })).rejects.toThrow(/no "proxyToken" in \/x\/creds/);
    await expect(openProxyGroup({ proxies: 'nohost', direct: bucket, creds: { proxyToken: token } })).rejects.toThrow(/not host:port/);
    const g = await openProxyGroup({ proxies: `localhost:${tlsAddr.split(':')[1]}`, direct: new FileObjectStore(join(dir.path, 'bucket')), creds: { proxyToken: token, proxyCA: caFile } });
    try {
      const b = await frame();
      await g.put(b.key, b.frame);
      expect((await g.get(b.key)).equals(b.frame)).toBe(true);
      expect(g.stats.direct).toBe(0);
    } finally {
      await g.close();
    }
  });
});
