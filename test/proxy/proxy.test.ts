/**
 * proxy.flexfs end to end: a real Ceph RGW behind a capture proxy (recording forwarder), real
 * proxy daemons as child processes, and the client-side proxy group (ProxyGroupStore) in this
 * process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, waitFor } from '../harness/ports.js';
import { sharedRgw, type Rgw } from '../harness/rgw.js';
import { createCodec, createEncryption } from '../../src/codec/index.js';
import type { BlockCodec } from '../../src/codec/types.js';
import type { BlockStoreSettings } from '../../src/meta/types.js';
import { ProxyGroupStore } from '../../src/proxy/group.js';
import { pathForKey } from '../../src/proxy/keys.js';
import { blockKey, openStore, type ObjectStore } from '../../src/store/index.js';
import {
  cacheFileOf, ensureBuilt, filesUnder, metricsOf, request, runCli, startCaptureProxy, startProxyProcess,
  type ProxyProc, type ProxyStartOptions,
} from './harness.js';

const VOL = 'pxvol';
const TOKEN = randomBytes(24).toString('base64url');
let nextBlockId = 1000;

describe('proxy.flexfs with a real RGW', () => {
  let rgw: Rgw;
  let dir: { path: string; cleanup: () => Promise<void> };
  let capture: Awaited<ReturnType<typeof startCaptureProxy>>;
  let direct: ObjectStore;
  let codec: BlockCodec;
  let bucketUrl: string;
  const procs: ProxyProc[] = [];
  let A: ProxyProc;
  let B: ProxyProc;

  /** A proxy with its own home (creds written through `init creds` on stdin) and disk folder. */
  async function newProxy(name: string, extra: Partial<ProxyStartOptions> = {}): Promise<ProxyProc> {
    const home = join(dir.path, name, 'home');
    const init = await runCli(['init', 'creds'], {
      env: { FLEXFS_HOME: home },
      stdin: `blockUser=${rgw.accessKey}\nblockPass=${rgw.secretKey}\ntoken=${TOKEN}\n`,
    });
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout + init.stderr).not.toContain(rgw.secretKey);
    const p = await startProxyProcess({
      home, diskFolder: join(dir.path, name, 'cache'), store: bucketUrl, endpoint: capture.endpoint,
      region: rgw.region, quota: '64M', ...extra,
    });
    procs.push(p);
    return p;
  }

  /** Encode `raw` as a frame of a fresh block key and store it in the bucket directly. */
  async function blockInBucket(raw = randomBytes(64 * 1024)): Promise<{ key: string; frame: Buffer; raw: Buffer }> {
    const id = nextBlockId++;
    const key = blockKey(VOL, 2, id, id);
    const frame = await codec.encode(key, raw);
    await direct.put(key, frame);
    return { key, frame, raw };
  }

  /** Cache files are written in the background after a miss is served: wait until they land. */
  const cacheFileWritten = (p: ProxyProc, key: string) =>
    waitFor(() => stat(cacheFileOf(p.opts.diskFolder, key)).then(() => true, () => false), 10_000, `cache file of ${key}`, 20);
  const cacheSettled = (p: ProxyProc) => waitFor(async () => {
    const tmp = await filesUnder(join(p.opts.diskFolder, 'tmp'));
    const files = await filesUnder(join(p.opts.diskFolder, 'blocks'));
    return tmp.length === 0 && files.length === (await metricsOf(p)).get('flexfs_proxy_cache_objects');
  }, 10_000, 'background cache writes', 50);

  const upstreamGets = (key: string) =>
    capture.requests.filter((r) => r.method === 'GET' && r.url.split('?')[0].endsWith(`/pfx/${key}`)).length;
  const get = (p: ProxyProc, key: string, headers?: Record<string, string>) =>
    request({ port: p.port, ca: p.certPem }, 'GET', pathForKey(key), { token: TOKEN, headers });

  beforeAll(async () => {
    await ensureBuilt();
    rgw = await sharedRgw();
    dir = await tempDir('flexfs-proxy-');
    const bucket = `proxy-${randomBytes(4).toString('hex')}`;
    await rgw.createBucket(bucket);
    bucketUrl = `s3://${bucket}/pfx`;
    capture = await startCaptureProxy(rgw.endpoint);
    const settings: BlockStoreSettings = { url: bucketUrl, endpoint: rgw.endpoint, region: rgw.region, pathStyle: true, blockUser: rgw.accessKey, blockPass: rgw.secretKey };
    direct = openStore(settings);
    codec = createCodec({ compression: 'lz4', workers: 0 });
    [A, B] = await Promise.all([newProxy('a'), newProxy('b')]);
  });

  afterAll(async () => {
    await Promise.allSettled(procs.map((p) => p.stop()));
    await Promise.allSettled([direct?.close(), codec?.close(), capture?.close()]);
    await rgw?.stop();
    await dir?.cleanup();
  });

  it('refuses a bad token (401) and unsafe or foreign keys (400); /health and /metrics are open', async () => {
    const { key } = await blockInBucket();
    const to = { port: A.port, ca: A.certPem };
    expect((await request(to, 'GET', pathForKey(key))).status).toBe(401);
    expect((await request(to, 'GET', pathForKey(key), { token: TOKEN + 'x' })).status).toBe(401);
    expect((await request(to, 'PUT', pathForKey(key), { token: 'wrong', body: Buffer.from('x') })).status).toBe(401);
    for (const path of ['/v1/blocks/../../etc/passwd', '/v1/blocks/%2e%2e/%2e%2e/etc/passwd', '/v1/blocks/%2Fetc%2Fpasswd',
      '/v1/blocks/pxvol%5C..%5Cx', '/v1/blocks/pxvol/blocks/%00', `/v1/blocks/${VOL}/meta.db`]) {
      const res = await request(to, 'GET', path, { token: TOKEN });
      expect(res.status, path).toBe(400);
    }
    expect((await request({ port: A.port, ca: A.certPem }, 'GET', '/health')).status).toBe(200);
    expect(A.logs()).not.toContain(TOKEN);
    expect(A.logs()).not.toContain(rgw.secretKey);
  });

  it('keys outside --keyPrefix are refused', async () => {
    const P = await newProxy('prefixed', { keyPrefix: 'othervol' });
    try {
      const { key } = await blockInBucket();
      const res = await get(P, key);
      expect(res.status).toBe(400);
      expect(res.body.toString()).toMatch(/outside the configured prefix/);
    } finally {
      await P.stop();
    }
  });

  it('GET: a miss fetches from the bucket once, later GETs are hits; metrics count both', async () => {
    const { key, frame } = await blockInBucket();
    const before = await metricsOf(A);
    const first = await get(A, key);
    expect(first.status).toBe(200);
    expect(first.headers['x-flexfs-cache']).toBe('miss');
    expect(first.body.equals(frame)).toBe(true);
    const second = await get(A, key);
    expect(second.headers['x-flexfs-cache']).toBe('hit');
    expect(second.body.equals(frame)).toBe(true);
    expect(upstreamGets(key)).toBe(1);
    const ranged = await get(A, key, { range: 'bytes=10-19' });
    expect(ranged.status).toBe(206);
    expect(ranged.body.equals(frame.subarray(10, 20))).toBe(true);
    const after = await metricsOf(A);
    const d = (m: string) => (after.get(m) ?? 0) - (before.get(m) ?? 0);
    expect(d('flexfs_proxy_cache_misses_total')).toBe(1);
    expect(d('flexfs_proxy_cache_hits_total')).toBe(2);
    expect(d('flexfs_proxy_bytes_served_total')).toBe(2 * frame.length + 10);
    expect(after.get('flexfs_proxy_cache_bytes')).toBeGreaterThanOrEqual(frame.length);
    expect(after.get('flexfs_proxy_upstream_seconds_count{op="get"}')).toBeGreaterThanOrEqual(1);
    expect((await get(A, blockKey(VOL, 2, 999_999, 999_999))).status).toBe(404);
  });

  it('singleflight: 24 concurrent GETs of a cold key cause one upstream GET', async () => {
    const { key, frame } = await blockInBucket(randomBytes(1024 * 1024));
    // A slow bucket for this key, so all 24 requests are surely in flight during the one fetch.
    capture.delay = (method, url) => (method === 'GET' && url.split('?')[0].endsWith(`/pfx/${key}`) ? 1500 : 0);
    try {
      const before = await metricsOf(A);
      const results = await Promise.all(Array.from({ length: 24 }, () => get(A, key)));
      for (const r of results) {
        expect(r.status).toBe(200);
        expect(r.headers['x-flexfs-cache']).toBe('miss');
        expect(r.body.equals(frame)).toBe(true);
      }
      expect(upstreamGets(key)).toBe(1);
      const after = await metricsOf(A);
      expect(after.get('flexfs_proxy_cache_misses_total')! - (before.get('flexfs_proxy_cache_misses_total') ?? 0)).toBe(24);
    } finally {
      capture.delay = undefined;
    }
  });

  it('PUT writes through to the bucket, caches, and refuses a frame that fails verification', async () => {
    const id = nextBlockId++;
    const key = blockKey(VOL, 3, 0, id);
    const frame = await codec.encode(key, randomBytes(100_000));
    const before = await metricsOf(A);
    const put = await request({ port: A.port, ca: A.certPem }, 'PUT', pathForKey(key), { token: TOKEN, body: frame });
    expect(put.status).toBe(204);
    // Bytes in: what clients PUT and what went to the bucket.
    const after = await metricsOf(A);
    const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
    expect(delta('flexfs_proxy_bytes_received_total')).toBe(frame.length);
    expect(delta('flexfs_proxy_upstream_bytes_total{op="put"}')).toBe(frame.length);
    expect((await direct.get(key)).equals(frame)).toBe(true);
    const upstreamPut = capture.requests.find((r) => r.method === 'PUT' && r.url.split('?')[0].endsWith(`/pfx/${key}`));
    expect(upstreamPut).toBeDefined();
    expect(upstreamPut!.headers['x-amz-server-side-encryption']).toBeUndefined();
    const hit = await get(A, key);
    expect(hit.headers['x-flexfs-cache']).toBe('hit');
    expect(upstreamGets(key)).toBe(0);

    const bad = Buffer.from(frame);
    bad[bad.length - 100] ^= 0xff;
    const key2 = blockKey(VOL, 3, 1, nextBlockId++);
    const refused = await request({ port: A.port, ca: A.certPem }, 'PUT', pathForKey(key2), { token: TOKEN, body: bad });
    expect(refused.status).toBe(400);
    expect(await direct.head(key2)).toBeNull();
  });

  it('--sse: PUTs through the proxy carry x-amz-server-side-encryption: AES256 upstream', async () => {
    const S = await newProxy('sse', { sse: true });
    try {
      const key = blockKey(VOL, 4, 0, nextBlockId++);
      const frame = await codec.encode(key, randomBytes(5000));
      const res = await request({ port: S.port, ca: S.certPem }, 'PUT', pathForKey(key), { token: TOKEN, body: frame });
      const upstreamPut = capture.requests.find((r) => r.method === 'PUT' && r.url.split('?')[0].endsWith(`/pfx/${key}`));
      expect(upstreamPut, 'the proxy sent the PUT upstream').toBeDefined();
      expect(upstreamPut!.headers['x-amz-server-side-encryption']).toBe('AES256');
      // Ceph Pacific's RGW refuses SSE-S3 over plain HTTP without a KMS; whichever way the bucket
      // answers, the proxy must report it faithfully and cache only what the bucket accepted.
      if (upstreamPut!.status === 200) {
        expect(res.status).toBe(204);
        expect((await direct.get(key)).equals(frame)).toBe(true);
      } else {
        // A refusal of SSE is a 400 the client must not route around (x-flexfs-refused: sse).
        expect(res.status).toBe(400);
        expect(res.headers['x-flexfs-refused']).toBe('sse');
        expect(res.body.toString()).toMatch(/refused server-side encryption/);
        expect((await get(S, key)).status).toBe(404);
      }
    } finally {
      await S.stop();
    }
  });

  it('a cached frame that fails verification is dropped and refetched, never served', async () => {
    const { key, frame } = await blockInBucket();
    expect((await get(A, key)).status).toBe(200);
    await cacheFileWritten(A, key);
    const file = cacheFileOf(A.opts.diskFolder, key);
    const onDisk = await readFile(file);
    expect(onDisk.equals(frame)).toBe(true);
    onDisk[onDisk.length >> 1] ^= 0x01;
    await writeFile(file, onDisk);
    const before = await metricsOf(A);
    const res = await get(A, key);
    expect(res.status).toBe(200);
    expect(res.body.equals(frame)).toBe(true);
    expect(res.headers['x-flexfs-cache']).toBe('miss');
    expect(upstreamGets(key)).toBe(2);
    const after = await metricsOf(A);
    expect((after.get('flexfs_proxy_verify_failures_total{source="cache"}') ?? 0) - (before.get('flexfs_proxy_verify_failures_total{source="cache"}') ?? 0)).toBe(1);
    await waitFor(async () => (await readFile(file).catch(() => Buffer.alloc(0))).equals(frame), 10_000, 'the good frame cached again', 20);
  });

  it('keeps its byte quota by evicting the least recently used frames', async () => {
    const Q = await newProxy('quota', { quota: String(3 * 300 * 1024) });
    try {
      const blocks = [];
      for (let i = 0; i < 6; i++) blocks.push(await blockInBucket(randomBytes(256 * 1024)));
      for (const b of blocks) {
        expect((await get(Q, b.key)).body.equals(b.frame)).toBe(true);
        await cacheFileWritten(Q, b.key); // keeps the LRU order the read order
      }
      await cacheSettled(Q);
      const m = await metricsOf(Q);
      expect(m.get('flexfs_proxy_cache_evictions_total')).toBeGreaterThanOrEqual(3);
      expect(m.get('flexfs_proxy_cache_bytes')).toBeLessThanOrEqual(3 * 300 * 1024);
      const files = await filesUnder(join(Q.opts.diskFolder, 'blocks'));
      const sizes = await Promise.all(files.map(async (f) => (await readFile(f)).length));
      expect(sizes.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(3 * 300 * 1024);
      expect(files.length).toBe(m.get('flexfs_proxy_cache_objects'));
      // The oldest was evicted (a new miss), the newest is still a hit.
      expect((await get(Q, blocks[0].key)).headers['x-flexfs-cache']).toBe('miss');
      expect(upstreamGets(blocks[0].key)).toBe(2);
      expect((await get(Q, blocks[5].key)).headers['x-flexfs-cache']).toBe('hit');
    } finally {
      await Q.stop();
    }
  });

  it('a restart keeps the cache: a block deleted from the bucket is still served', async () => {
    const R = await newProxy('restart');
    const { key, frame } = await blockInBucket();
    expect((await get(R, key)).headers['x-flexfs-cache']).toBe('miss');
    await R.stop();
    await direct.delete(key);
    expect(await direct.head(key)).toBeNull();
    const R2 = await startProxyProcess({ ...R.opts, port: R.port });
    procs.push(R2);
    try {
      const m = await metricsOf(R2);
      expect(m.get('flexfs_proxy_cache_objects')).toBe(1);
      const res = await get(R2, key);
      expect(res.status).toBe(200);
      expect(res.headers['x-flexfs-cache']).toBe('hit');
      expect(res.body.equals(frame)).toBe(true);
      expect(upstreamGets(key)).toBe(1);
    } finally {
      await R2.stop();
    }
  });

  describe('proxy group (client side)', () => {
    let group: ProxyGroupStore;
    const events: string[] = [];
    const written: { key: string; frame: Buffer }[] = [];

    beforeAll(() => {
      group = new ProxyGroupStore({
        proxies: [A.addr, B.addr], token: TOKEN, direct: openStore({ url: bucketUrl, endpoint: rgw.endpoint, region: rgw.region, pathStyle: true, blockUser: rgw.accessKey, blockPass: rgw.secretKey }),
        tls: { ca: [A.certPem, B.certPem] }, coolDownMs: 1500, timeoutMs: 10_000,
        onProxyEvent: (e) => events.push(`${e.proxy} ${e.state} ${e.reason ?? ""}`),
      });
    });
    afterAll(async () => {
      await group?.close();
    });

    it('spreads blocks over the proxies by rendezvous hashing and reads them back', async () => {
      for (let i = 0; i < 24; i++) {
        const key = blockKey(VOL, 10, i, nextBlockId++);
        const frame = await codec.encode(key, randomBytes(128 * 1024));
        await group.put(key, frame);
        written.push({ key, frame });
      }
      expect(events).toEqual([]);
      expect(group.stats.byProxy[A.addr]).toBeGreaterThan(0);
      expect(group.stats.byProxy[B.addr]).toBeGreaterThan(0);
      expect(group.stats.direct).toBe(0);
      for (const w of written) {
        expect((await group.get(w.key)).equals(w.frame)).toBe(true);
        expect((await direct.get(w.key)).equals(w.frame)).toBe(true);
        // Each block was cached only by the proxy rendezvous hashing picked for it.
        const owner = group.candidates(w.key)[0] === A.addr ? A : B;
        expect((await get(owner, w.key)).headers['x-flexfs-cache']).toBe('hit');
      }
      const r = await group.get(written[0].key, { range: { start: 5, end: 105 } });
      expect(r.equals(written[0].frame.subarray(5, 105))).toBe(true);
      await expect(group.get(blockKey(VOL, 10, 999, 424242))).rejects.toMatchObject({ kind: 'NotFound' });
    });

    it('sse on the mount reaches the bucket through proxies without --sse; a refusal is not written around them', async () => {
      const sseGroup = new ProxyGroupStore({
        proxies: [A.addr, B.addr], token: TOKEN, sse: true, tls: { ca: [A.certPem, B.certPem] }, coolDownMs: 1500, timeoutMs: 10_000,
        // The fallback store has no sse of its own: a block written around the proxies would lack it.
        direct: openStore({ url: bucketUrl, endpoint: rgw.endpoint, region: rgw.region, pathStyle: true, blockUser: rgw.accessKey, blockPass: rgw.secretKey }),
      });
      try {
        const key = blockKey(VOL, 12, 0, nextBlockId++);
        const frame = await codec.encode(key, randomBytes(5000));
        const err = await sseGroup.put(key, frame).then(() => null, (e: Error) => e);
        const upstreamPut = capture.requests.find((r) => r.method === 'PUT' && r.url.split('?')[0].endsWith(`/pfx/${key}`));
        expect(upstreamPut, 'the proxy sent the PUT upstream').toBeDefined();
        expect(upstreamPut!.headers['x-amz-server-side-encryption']).toBe('AES256');
        expect(sseGroup.stats.direct).toBe(0);
        if (upstreamPut!.status === 200) {
          expect(err).toBeNull();
        } else {
          expect(err).toMatchObject({ kind: 'InvalidRequest' });
          expect(err!.message).toMatch(/refused server-side encryption/);
          expect(err!.message).not.toContain(rgw.secretKey);
          expect(await direct.head(key)).toBeNull();
        }
      } finally {
        await sseGroup.close();
      }
    });

    it('E2E volume: the proxies\' disks hold the ciphertext only', async () => {
      const { dataKey } = await createEncryption('correct horse battery staple');
      const e2e = createCodec({ compression: 'lz4', dataKey, workers: 0 });
      const marker = (tag: string) => Buffer.from(`FLEXFS-PLAINTEXT-${tag}-${randomBytes(8).toString('hex')}`);
      // Incompressible random bytes with a marker inside: a plain frame keeps the marker readable.
      const withMarker = (m: Buffer) => Buffer.concat([randomBytes(30_000), m, randomBytes(30_000)]);
      const plainMarker = marker('PLAIN');
      const secretMarker = marker('SECRET');
      try {
        const keys = [];
        for (let i = 0; i < 6; i++) {
          const key = blockKey(VOL, 20, i, nextBlockId++);
          await group.put(key, await e2e.encode(key, withMarker(secretMarker)));
          expect((await e2e.decode(key, await group.get(key))).includes(secretMarker)).toBe(true);
          keys.push(key);
        }
        const control = blockKey(VOL, 21, 0, nextBlockId++);
        await group.put(control, await codec.encode(control, withMarker(plainMarker)));
        const files = [...await filesUnder(A.opts.diskFolder), ...await filesUnder(B.opts.diskFolder)];
        let sawControl = false;
        for (const f of files) {
          const bytes = await readFile(f);
          expect(bytes.includes(secretMarker), f).toBe(false);
          if (bytes.includes(plainMarker)) sawControl = true;
        }
        expect(sawControl, 'the scan finds plaintext when there is some').toBe(true);
        for (const key of keys) expect((await readFile(cacheFileOf(group.candidates(key)[0] === A.addr ? A.opts.diskFolder : B.opts.diskFolder, key))).equals(await direct.get(key))).toBe(true);
      } finally {
        await e2e.close();
      }
    });

    it('one proxy killed mid-read: the read in flight on it is answered via the other proxy', async () => {
      // A cold 4 MiB block whose first choice is B: the read goes to B, and B has to ask the bucket.
      let key: string;
      do key = blockKey(VOL, 11, 0, nextBlockId++); while (group.candidates(key)[0] !== B.addr);
      const frame = await codec.encode(key, randomBytes(4 * 1024 * 1024));
      await direct.put(key, frame);
      // The bucket holds B's GET (only the first one), so B is stuck inside the request when it dies.
      let held = 0;
      capture.delay = (method, url) => (method === 'GET' && url.split('?')[0].endsWith(`/pfx/${key}`) && held++ === 0 ? 8000 : 0);
      const before = { ...group.stats, byProxy: { ...group.stats.byProxy } };
      const bMisses = (await metricsOf(B)).get('flexfs_proxy_cache_misses_total') ?? 0;
      try {
        let settled = false;
        const read = group.get(key).finally(() => { settled = true; });
        await waitFor(() => upstreamGets(key) === 1, 10_000, 'B to ask the bucket for the block', 10);
        expect(settled, 'the read is still in flight on B').toBe(false);
        expect((await metricsOf(B)).get('flexfs_proxy_cache_misses_total'), 'B took the read as a miss').toBe(bMisses + 1);
        await B.kill9();
        expect(settled).toBe(false);
        expect((await read).equals(frame)).toBe(true);
      } finally {
        capture.delay = undefined;
      }
      expect(B.alive()).toBe(false);
      expect(group.stats.failovers).toBe(before.failovers + 1);
      expect(group.stats.byProxy[A.addr]).toBe(before.byProxy[A.addr] + 1);
      expect(group.stats.byProxy[B.addr]).toBe(before.byProxy[B.addr]);
      expect(upstreamGets(key)).toBe(2); // B's (held) and A's
      expect(events.some((e) => e.startsWith(`${B.addr} down`)), events.join('\n')).toBe(true);
      // Reads of the other blocks go on, B's through A (B is cooling down).
      for (const w of written) expect((await group.get(w.key)).equals(w.frame)).toBe(true);
    });

    it('all proxies down: reads go to the bucket; a proxy that returns is used again after the cool-down', async () => {
      await A.kill9();
      const directBefore = group.stats.direct;
      for (const w of written) expect((await group.get(w.key)).equals(w.frame)).toBe(true);
      expect(group.stats.direct - directBefore).toBe(written.length);

      const B2 = await startProxyProcess({ ...B.opts, port: B.port });
      procs.push(B2);
      const usedBefore = group.stats.byProxy[B.addr];
      await waitFor(async () => {
        for (const w of written) await group.get(w.key);
        return group.stats.byProxy[B.addr] > usedBefore;
      }, 20_000, 'the restarted proxy to be used again', 300);
    });
  });
});
