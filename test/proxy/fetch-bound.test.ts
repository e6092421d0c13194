/**
 * proxy.flexfs keeps its memory bounded under a burst of misses: many concurrent GETs of distinct
 * uncached keys against a real proxy over the test RGW (behind a forwarder that makes each bucket
 * GET slow, so fetches pile up). The proxy never runs more bucket GETs than --maxFetches, and every
 * request either gets its frame or a 503 (queue full); nothing is lost or stuck.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import { join } from 'node:path';
import { tempDir, waitFor } from '../harness/ports.js';
import { sharedRgw, type Rgw } from '../harness/rgw.js';
import { writeCreds } from '../../src/config/creds.js';
import { createCodec } from '../../src/codec/index.js';
import type { BlockCodec } from '../../src/codec/types.js';
import { pathForKey } from '../../src/proxy/keys.js';
import { blockKey, openStore, type ObjectStore } from '../../src/store/index.js';
import { ensureBuilt, metricsOf, request, startCaptureProxy, startProxyProcess, type ProxyProc } from './harness.js';

const TOKEN = randomBytes(24).toString('base64url');
const MAX_FETCHES = 4;
const MAX_GETS = 8;
const MAX_QUEUED = 24;
const REQUESTS = 120;

describe('proxy.flexfs bounds in-flight bucket fetches and GETs (real RGW)', () => {
  let rgw: Rgw;
  let dir: { path: string; cleanup: () => Promise<void> };
  let capture: Awaited<ReturnType<typeof startCaptureProxy>>;
  let direct: ObjectStore;
  let codec: BlockCodec;
  let proxy: ProxyProc;

  beforeAll(async () => {
    await ensureBuilt();
    rgw = await sharedRgw();
    dir = await tempDir('flexfs-proxy-bound-');
    const bucket = `bound-${randomBytes(4).toString('hex')}`;
    await rgw.createBucket(bucket);
    const url = `s3://${bucket}/pfx`;
    capture = await startCaptureProxy(rgw.endpoint);
    direct = openStore({ url, endpoint: rgw.endpoint, region: rgw.region, pathStyle: true, blockUser: rgw.accessKey, blockPass: rgw.secretKey });
    codec = createCodec({ compression: 'none', workers: 0 });
    const home = join(dir.path, 'home');
    await writeCreds(join(home, 'proxy', 'creds'), { blockUser: rgw.accessKey, blockPass: rgw.secretKey, token: TOKEN });
    proxy = await startProxyProcess({
      home, diskFolder: join(dir.path, 'cache'), store: url, endpoint: capture.endpoint, region: rgw.region, quota: '1G',
      args: ['--maxFetches', String(MAX_FETCHES), '--maxGets', String(MAX_GETS), '--maxQueuedGets', String(MAX_QUEUED)],
    });
  });
  afterAll(async () => {
    await proxy?.stop();
    await Promise.allSettled([direct?.close(), codec?.close(), capture?.close()]);
    await rgw?.stop();
    await dir?.cleanup();
  });

  it(`${REQUESTS} concurrent misses: at most ${MAX_FETCHES} bucket GETs at once; each request gets its frame or 503`, async () => {
    const blocks: Array<{ key: string; frame: Buffer }> = [];
    for (let i = 0; i < REQUESTS; i += 20) {
      blocks.push(...await Promise.all(Array.from({ length: 20 }, async (_, j) => {
        const id = 5000 + i + j;
        const key = blockKey('boundvol', 3, id, id);
        const frame = await codec.encode(key, randomBytes(256 * 1024));
        await direct.put(key, frame);
        return { key, frame };
      })));
    }
    capture.delay = (method) => (method === 'GET' ? 300 : 0); // a slow bucket: fetches overlap
    const get = (key: string) => request({ port: proxy.port, ca: proxy.certPem }, 'GET', pathForKey(key), { token: TOKEN });
    const results = await Promise.all(blocks.map(async (b) => ({ b, res: await get(b.key) })));
    capture.delay = undefined;

    const statuses = results.map((r) => r.res.status);
    expect(statuses.filter((s) => s !== 200 && s !== 503)).toEqual([]);
    for (const { b, res } of results) if (res.status === 200) expect(res.body.equals(b.frame)).toBe(true);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0); // the queue bound was reached

    const m = await metricsOf(proxy);
    expect(m.get('flexfs_proxy_upstream_fetches_peak')).toBeGreaterThanOrEqual(1);
    expect(m.get('flexfs_proxy_upstream_fetches_peak')).toBeLessThanOrEqual(MAX_FETCHES);
    expect(m.get('flexfs_proxy_gets_refused_total')).toBe(statuses.filter((s) => s === 503).length);
    // the bucket saw no more GETs than the proxy admitted (one per key that got a slot)
    expect(capture.requests.filter((r) => r.method === 'GET').length).toBeLessThanOrEqual(REQUESTS - m.get('flexfs_proxy_gets_refused_total')!);

    // nothing is stuck: slots come back, and what was refused is served when asked again
    await waitFor(async () => {
      const now = await metricsOf(proxy);
      return now.get('flexfs_proxy_gets_in_flight') === 0 && now.get('flexfs_proxy_gets_queued') === 0;
    }, 10_000, 'GET slots released');
    for (const { b } of results.filter((r) => r.res.status === 503)) {
      const again = await get(b.key);
      expect(again.status).toBe(200);
      expect(again.body.equals(b.frame)).toBe(true);
    }
    expect((await metricsOf(proxy)).get('flexfs_proxy_upstream_fetches_peak')).toBeLessThanOrEqual(MAX_FETCHES);
  });

  it('clients that hang up while queued or being served give their slots back', async () => {
    const blocks = await Promise.all(Array.from({ length: 30 }, async (_, j) => {
      const id = 9000 + j;
      const key = blockKey('boundvol', 3, id, id);
      const frame = await codec.encode(key, randomBytes(64 * 1024));
      await direct.put(key, frame);
      return { key, frame };
    }));
    capture.delay = (method) => (method === 'GET' ? 500 : 0);
    try {
      // 30 GETs (8 get slots, 22 queued), each client gone before any fetch can finish
      const inFlightOrQueued = async () => {
        const m = await metricsOf(proxy);
        return m.get('flexfs_proxy_gets_in_flight')! + m.get('flexfs_proxy_gets_queued')!;
      };
      const requests = blocks.map((b) => {
        const req = https.request({ host: '127.0.0.1', port: proxy.port, path: pathForKey(b.key), ca: proxy.certPem, agent: false,
          headers: { authorization: `Bearer ${TOKEN}` } });
        req.on('error', () => undefined);
        req.end();
        return req;
      });
      await waitFor(async () => (await inFlightOrQueued()) === blocks.length, 10_000, 'all GETs admitted or queued');
      for (const r of requests) r.destroy();
      await waitFor(async () => (await inFlightOrQueued()) === 0, 20_000, 'slots given back');
    } finally {
      capture.delay = undefined;
    }
    // and the proxy still serves every key
    for (const b of blocks) {
      const res = await request({ port: proxy.port, ca: proxy.certPem }, 'GET', pathForKey(b.key), { token: TOKEN });
      expect(res.status).toBe(200);
      expect(res.body.equals(b.frame)).toBe(true);
    }
  });
});
