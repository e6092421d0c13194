/**
 * proxy.flexfs bounds the PUT bodies it holds: many concurrent PUTs against a real proxy over the
 * test RGW (behind a forwarder that makes each bucket PUT slow, so PUTs pile up). The proxy never
 * holds more PUTs than --maxPuts (peak metric), every PUT is stored (204) or answered 503 (queue
 * full), and a mount's proxy group writes a 503'd block to the bucket itself: nothing is lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tempDir, waitFor } from '../harness/ports.js';
import { sharedRgw, type Rgw } from '../harness/rgw.js';
import { writeCreds } from '../../src/config/creds.js';
import { createCodec } from '../../src/codec/index.js';
import type { BlockCodec } from '../../src/codec/types.js';
import { pathForKey } from '../../src/proxy/keys.js';
import { ProxyGroupStore } from '../../src/proxy/group.js';
import { blockKey, openStore, type ObjectStore } from '../../src/store/index.js';
import { ensureBuilt, metricsOf, request, startCaptureProxy, startProxyProcess, type ProxyProc } from './harness.js';

const TOKEN = randomBytes(24).toString('base64url');
const MAX_PUTS = 4;
const MAX_QUEUED = 8;
const REQUESTS = 60;

describe('proxy.flexfs bounds in-flight PUTs (real RGW)', () => {
  let rgw: Rgw;
  let dir: { path: string; cleanup: () => Promise<void> };
  let capture: Awaited<ReturnType<typeof startCaptureProxy>>;
  let direct: ObjectStore;
  let codec: BlockCodec;
  let proxy: ProxyProc;
  let url: string;

  beforeAll(async () => {
    await ensureBuilt();
    rgw = await sharedRgw();
    dir = await tempDir('flexfs-proxy-putbound-');
    const bucket = `putbound-${randomBytes(4).toString('hex')}`;
    await rgw.createBucket(bucket);
    url = `s3://${bucket}/pfx`;
    capture = await startCaptureProxy(rgw.endpoint);
    direct = openStore({ url, endpoint: rgw.endpoint, region: rgw.region, pathStyle: true, blockUser: rgw.accessKey, blockPass: rgw.secretKey });
    codec = createCodec({ compression: 'none', workers: 0 });
    const home = join(dir.path, 'home');
    await writeCreds(join(home, 'proxy', 'creds'), { blockUser: rgw.accessKey, blockPass: rgw.secretKey, token: TOKEN });
    proxy = await startProxyProcess({
      home, diskFolder: join(dir.path, 'cache'), store: url, endpoint: capture.endpoint, region: rgw.region, quota: '1G',
      args: ['--maxPuts', String(MAX_PUTS), '--maxQueuedPuts', String(MAX_QUEUED)],
    });
  });
  afterAll(async () => {
    await proxy?.stop();
    await Promise.allSettled([direct?.close(), codec?.close(), capture?.close()]);
    await rgw?.stop();
    await dir?.cleanup();
  });

  async function frames(first: number, n: number): Promise<Array<{ key: string; frame: Buffer }>> {
    return Promise.all(Array.from({ length: n }, async (_, j) => {
      const id = first + j;
      const key = blockKey('putvol', 5, id, id);
      return { key, frame: await codec.encode(key, randomBytes(256 * 1024)) };
    }));
  }

  async function slotsFree(): Promise<void> {
    await waitFor(async () => {
      const m = await metricsOf(proxy);
      return m.get('flexfs_proxy_puts_in_flight') === 0 && m.get('flexfs_proxy_puts_queued') === 0;
    }, 20_000, 'PUT slots released');
  }

  it(`${REQUESTS} concurrent PUTs: at most ${MAX_PUTS} held at once; each is stored (204) or refused (503)`, async () => {
    const blocks = await frames(100, REQUESTS);
    capture.delay = (method) => (method === 'PUT' ? 300 : 0); // a slow bucket: PUTs overlap
    const put = (b: { key: string; frame: Buffer }) => request({ port: proxy.port, ca: proxy.certPem }, 'PUT', pathForKey(b.key), { token: TOKEN, body: b.frame });
    const results = await Promise.all(blocks.map(async (b) => ({ b, res: await put(b) })));
    capture.delay = undefined;

    const statuses = results.map((r) => r.res.status);
    expect(statuses.filter((s) => s !== 204 && s !== 503)).toEqual([]);
    const stored = results.filter((r) => r.res.status === 204);
    const refused = results.filter((r) => r.res.status === 503);
    expect(stored.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0); // the queue bound was reached
    for (const r of refused) expect(r.res.headers['retry-after']).toBe('1');

    const m = await metricsOf(proxy);
    expect(m.get('flexfs_proxy_puts_peak')).toBeGreaterThanOrEqual(2);
    expect(m.get('flexfs_proxy_puts_peak')).toBeLessThanOrEqual(MAX_PUTS);
    expect(m.get('flexfs_proxy_puts_refused_total')).toBe(refused.length);
    // what got 204 is in the bucket; what got 503 was never written
    for (const { b } of stored) expect((await direct.get(b.key)).equals(b.frame)).toBe(true);
    for (const { b } of refused) expect(await direct.head(b.key)).toBeNull();
    expect(capture.requests.filter((r) => r.method === 'PUT').length).toBe(stored.length);

    // nothing is stuck: slots come back, and a refused PUT is accepted when sent again
    await slotsFree();
    for (const { b } of refused.slice(0, 5)) {
      expect((await put(b)).status).toBe(204);
      expect((await direct.get(b.key)).equals(b.frame)).toBe(true);
    }
  });

  it('a proxy group PUT that got 503 lands in the bucket directly; the busy proxy is not marked down', async () => {
    const before = (await metricsOf(proxy)).get('flexfs_proxy_puts_refused_total')!;
    const events: string[] = [];
    const groupDirect = openStore({ url, endpoint: rgw.endpoint, region: rgw.region, pathStyle: true, blockUser: rgw.accessKey, blockPass: rgw.secretKey });
    const group = new ProxyGroupStore({ proxies: [proxy.addr], token: TOKEN, direct: groupDirect, tls: { ca: proxy.certPem },
      onProxyEvent: (e) => events.push(`${e.proxy} ${e.state} ${e.reason ?? ''}`) });
    const blocks = await frames(1000, REQUESTS);
    capture.delay = (method) => (method === 'PUT' ? 300 : 0);
    try {
      await Promise.all(blocks.map((b) => group.put(b.key, b.frame)));
    } finally {
      capture.delay = undefined;
    }
    const refused = (await metricsOf(proxy)).get('flexfs_proxy_puts_refused_total')! - before;
    expect(refused).toBeGreaterThan(0);
    expect(group.stats.direct).toBe(refused); // each 503 went to the bucket, nothing else did
    expect(group.stats.byProxy[proxy.addr]).toBe(REQUESTS - refused);
    expect(events).toEqual([]);
    for (const b of blocks) expect((await direct.get(b.key)).equals(b.frame)).toBe(true);
    expect((await metricsOf(proxy)).get('flexfs_proxy_puts_peak')).toBeLessThanOrEqual(MAX_PUTS);
    await slotsFree();
    await group.close();
  });
});
