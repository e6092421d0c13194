/**
 * Proxy benchmark: 4 MiB block reads straight from the bucket vs through proxy.flexfs, cold (every
 * read a miss: proxy fetches from the bucket, verifies, caches, serves) and warm (disk cache hits).
 * A real Ceph RGW and a real proxy daemon on loopback; the client is the mount's ProxyGroupStore.
 * Run: npm run bench:proxy  (tsc -p . && node dist/bench/proxy.js [blocks] [in-flight])
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { createCodec } from '../src/codec/index.js';
import { ProxyGroupStore } from '../src/proxy/group.js';
import { blockKey, openStore, type ObjectStore } from '../src/store/index.js';
import { tempDir } from '../test/harness/ports.js';
import { startRgw } from '../test/harness/rgw.js';
import { runCli, startProxyProcess } from '../test/proxy/harness.js';
import { request } from 'node:https';
import { peakRss } from './daemon.js';

const BLOCK = 4 * 1024 * 1024;
const BLOCKS = Number(process.argv[2] ?? 32);
const IN_FLIGHT = Number(process.argv[3] ?? 4);
const BURST = Number(process.env.FLEXFS_BENCH_BURST ?? 1000);

/** One GET /v1/blocks/<key> with its own connection; resolves with the status (the body is drained). */
function rawGet(port: number, ca: string, token: string, key: string): Promise<number> {
  return new Promise((ok) => {
    const req = request({ host: '127.0.0.1', port, path: `/v1/blocks/${key}`, ca, agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => ok(res.statusCode ?? 0));
      res.on('error', () => ok(0));
    });
    req.on('error', () => ok(0));
    req.end();
  });
}

async function timed(keys: string[], inFlight: number, read: (key: string) => Promise<Buffer>): Promise<{ seconds: number; bytes: number; p50: number; p99: number }> {
  const lat: number[] = [];
  let bytes = 0;
  let next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < keys.length) {
      const key = keys[next++];
      const t = performance.now();
      bytes += (await read(key)).length;
      lat.push(performance.now() - t);
    }
  }));
  lat.sort((a, b) => a - b);
  return { seconds: (performance.now() - start) / 1000, bytes, p50: lat[Math.floor(lat.length / 2)], p99: lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))] };
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_SUPPRESS_NODE_DEPRECATION_WARNING = '1';
  const dir = await tempDir('flexfs-bench-proxy-');
  const rgw = await startRgw();
  const token = randomBytes(24).toString('base64url');
  const codec = createCodec({ compression: 'lz4', workers: 0 });
  const settings = { url: `s3://${rgw.bucket}/bench`, endpoint: rgw.endpoint, region: rgw.region, pathStyle: true, blockUser: rgw.accessKey, blockPass: rgw.secretKey };
  const direct: ObjectStore = openStore(settings);
  let proxy: Awaited<ReturnType<typeof startProxyProcess>> | undefined;
  let group: ProxyGroupStore | undefined;
  try {
    const home = join(dir.path, 'home');
    const init = await runCli(['init', 'creds'], { env: { FLEXFS_HOME: home }, stdin: `blockUser=${rgw.accessKey}\nblockPass=${rgw.secretKey}\ntoken=${token}\n` });
    if (init.code !== 0) throw new Error(`init creds failed: ${init.stderr}`);
    proxy = await startProxyProcess({ home, diskFolder: join(dir.path, 'cache'), store: settings.url, endpoint: rgw.endpoint, region: rgw.region, quota: String(4 * BLOCKS * BLOCK) });
    group = new ProxyGroupStore({ proxies: [proxy.addr], token, direct: openStore(settings), tls: { ca: proxy.certPem } });

    // Incompressible data: frames are full 4 MiB objects.
    const keys: string[] = [];
    for (let i = 0; i < BLOCKS; i++) {
      const key = blockKey('benchvol', 1, i, 10_000 + i);
      await direct.put(key, await codec.encode(key, randomBytes(BLOCK)));
      keys.push(key);
    }
    // Warm the bucket/RGW path once so "direct" is not penalised by first-touch effects.
    await timed(keys.slice(0, 4), 1, (k) => direct.get(k));

    const g = group;
    const rows: [string, Awaited<ReturnType<typeof timed>>][] = [];
    rows.push(['bucket direct (S3 GET)', await timed(keys, IN_FLIGHT, (k) => direct.get(k))]);
    rows.push(['proxy cold (miss → bucket → verify → cache)', await timed(keys, IN_FLIGHT, (k) => g.get(k))]);
    rows.push(['proxy warm (disk cache hit)', await timed(keys, IN_FLIGHT, (k) => g.get(k))]);
    rows.push(['proxy warm, 1 in flight', await timed(keys, 1, (k) => g.get(k))]);
    rows.push(['bucket direct, 1 in flight', await timed(keys, 1, (k) => direct.get(k))]);
    if (g.stats.direct !== 0) throw new Error(`bench: ${g.stats.direct} reads bypassed the proxy`);

    // Memory under a burst: 1,000 GETs of 4 MiB blocks at once (each its own request; the proxy
    // holds at most --maxGets bodies, queues up to --maxQueuedGets, answers 503 beyond).
    const rssBefore = await peakRss(proxy.pid);
    const burst = await Promise.all(Array.from({ length: BURST }, (_, i) => rawGet(proxy!.port, proxy!.certPem, token, keys[i % keys.length])));
    const rssAfter = await peakRss(proxy.pid);
    const served = burst.filter((s) => s === 200).length;
    const refused = burst.filter((s) => s === 503).length;

    console.log(`flexfs proxy benchmark: ${BLOCKS} blocks of 4 MiB (incompressible), ${IN_FLIGHT} in flight unless noted, Ceph RGW + proxy.flexfs (HTTPS) on loopback, node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} x${availableParallelism()}`);
    console.log('');
    console.log('| read path | MB/s | p50 ms/block | p99 ms/block |');
    console.log('|---|---|---|---|');
    for (const [name, r] of rows) console.log(`| ${name} | ${(r.bytes / 1e6 / r.seconds).toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} |`);
    const mib = (n?: number) => (n === undefined ? '?' : (n / 2 ** 20).toFixed(0));
    console.log('');
    console.log(`burst of ${BURST} concurrent 4 MiB GETs (warm): ${served} served, ${refused} answered 503, ${BURST - served - refused} other; proxy peak RSS ${mib(rssBefore)} MiB before, ${mib(rssAfter)} MiB after`);
  } finally {
    await group?.close().catch(() => undefined);
    await proxy?.stop().catch(() => undefined);
    await Promise.allSettled([direct.close(), codec.close()]);
    await rgw.stop();
    await dir.cleanup();
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(e);
  process.exit(1);
});
