import { createServer, type Server } from 'node:http';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Counter, Gauge, Registry } from 'prom-client';
import { flexfsHome } from '../config/creds.js';
import { TIMEOUTS } from '../config/defaults.js';

/** What a mount exposes about itself (read from the VFS: fs.io.stats, fs.dirtyBytes, caches). */
export interface MountCounters {
  io: { stats: { gets: number; puts: number; memHits: number; diskHits: number; prefetchBytes?: number; prefetchUnusedBytes?: number } };
  dirtyBytes: number;
  memory?: { bytes: number };
  disk?: { bytes: number };
  /** The metadata cache (vfs/meta-cache.ts): hits, misses, and other mounts' changes it heard. */
  cache?: { stats: { entryHits: number; entryMisses: number; attrHits: number; attrMisses: number;
    changedEntries: number; changedAttrs: number; changedData: number; resets: number;
    listingHits: number; listingMisses: number; listingsPrefetched: number; filesPrefetched?: number } };
}

/** The status file a mount keeps under ~/.flexfs/mount/run/<pid>.json (read by `flexfs status`). */
export interface MountStatus {
  pid: number;
  volume: string;
  mountpoint: string;
  startedAt: number;
  updatedAt: number;
  blockGets: number;
  blockPuts: number;
  memHits: number;
  diskHits: number;
  dirtyBytes: number;
  memCacheBytes: number;
  diskCacheBytes: number;
  /** Lookups and attribute reads the mount answered from its metadata cache / asked the server for. */
  metaCacheHits?: number;
  metaCacheMisses?: number;
  /** Items of other mounts' changes pushed to this mount (coherent caching), and resets. */
  changesReceived?: number;
  metricsAddr?: string;
  /** The mount's control socket (ops/mount-control.ts) for `flexfs info`, `warmup`, `stats`. */
  controlSocket?: string;
}

export function mountRunDir(): string { return join(flexfsHome(), 'mount', 'run'); }

export function snapshot(c: MountCounters, base: Pick<MountStatus, 'pid' | 'volume' | 'mountpoint' | 'startedAt' | 'metricsAddr' | 'controlSocket'>): MountStatus {
  return {
    ...base, updatedAt: Date.now(), blockGets: c.io.stats.gets, blockPuts: c.io.stats.puts, memHits: c.io.stats.memHits,
    diskHits: c.io.stats.diskHits, dirtyBytes: c.dirtyBytes, memCacheBytes: c.memory?.bytes ?? 0, diskCacheBytes: c.disk?.bytes ?? 0,
    ...(c.cache ? {
      metaCacheHits: c.cache.stats.entryHits + c.cache.stats.attrHits,
      metaCacheMisses: c.cache.stats.entryMisses + c.cache.stats.attrMisses,
      changesReceived: c.cache.stats.changedEntries + c.cache.stats.changedAttrs + c.cache.stats.changedData,
    } : {}),
  };
}

export interface MountTelemetryOptions {
  volume: string;
  mountpoint: string;
  /** Opt-in Prometheus endpoint, `port` or `host:port` (host defaults to 127.0.0.1). */
  metricsAddr?: string;
  /** Status file refresh period (default 5 s). */
  intervalMs?: number;
  runDir?: string;
  /** PUTs that asked for SSE and were stored without it (withSseCheck); the metric reads 0 without. */
  sseNotApplied?: () => number;
  /** The control socket's path, recorded in the status file. */
  controlSocket?: string;
  /** Adds more metrics (e.g. per-operation latencies) to the endpoint's registry. */
  registerMetrics?: (registry: Registry) => void;
}

/**
 * A mount's self-report: a status file refreshed every few seconds (async writes, tmp + rename)
 * and, when asked for, a Prometheus /metrics endpoint. stop() removes the file and closes the port.
 */
export async function startMountTelemetry(fs: MountCounters, o: MountTelemetryOptions): Promise<{ stop(): Promise<void>; metricsAddr?: string }> {
  const runDir = o.runDir ?? mountRunDir();
  await mkdir(runDir, { recursive: true, mode: 0o700 });
  const file = join(runDir, `${process.pid}.json`);
  const startedAt = Date.now();
  let server: Server | undefined;
  let metricsAddr: string | undefined;
  if (o.metricsAddr) {
    const { host, port } = parseListenAddr(o.metricsAddr);
    const registry = metricsRegistry(fs, o.volume, o.sseNotApplied ?? (() => 0));
    o.registerMetrics?.(registry);
    server = createServer((req, res) => {
      if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
        registry.metrics().then((text) => { res.writeHead(200, { 'content-type': registry.contentType }); res.end(text); },
          () => { res.writeHead(500); res.end(); });
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found: try GET /metrics\n');
      }
    });
    await new Promise<void>((ok, fail) => { server!.once('error', fail); server!.listen(port, host, () => ok()); });
    const a = server.address();
    metricsAddr = typeof a === 'object' && a ? `${host}:${a.port}` : o.metricsAddr;
  }
  const write = async () => {
    const tmp = `${file}.tmp`;
    const s = snapshot(fs, { pid: process.pid, volume: o.volume, mountpoint: o.mountpoint, startedAt, metricsAddr, controlSocket: o.controlSocket });
    await writeFile(tmp, JSON.stringify(s) + '\n', { mode: 0o600 });
    await rename(tmp, file);
  };
  await write();
  let writing = Promise.resolve();
  const timer = setInterval(() => { writing = writing.then(write).catch(() => undefined); }, o.intervalMs ?? TIMEOUTS.statusIntervalMs);
  timer.unref();
  return {
    metricsAddr,
    async stop() {
      clearInterval(timer);
      await writing;
      await rm(file, { force: true });
      if (server) await new Promise<void>((ok) => server!.close(() => ok()));
    },
  };
}

export function parseListenAddr(text: string): { host: string; port: number } {
  const m = /^(?:(.+):)?(\d+)$/.exec(text.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`metrics address "${text}": expected PORT or HOST:PORT`);
  return { host: m[1] ?? '127.0.0.1', port };
}

/** Prometheus view of the counters, read at scrape time. */
function metricsRegistry(fs: MountCounters, volume: string, sseNotApplied: () => number): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ volume });
  let last = { gets: 0, puts: 0, memHits: 0, diskHits: 0, prefetchBytes: 0, prefetchUnusedBytes: 0 };
  let lastSse = 0;
  let lastMeta = { entryHits: 0, entryMisses: 0, attrHits: 0, attrMisses: 0, changedEntries: 0, changedAttrs: 0, changedData: 0, resets: 0,
    listingHits: 0, listingMisses: 0, listingsPrefetched: 0, filesPrefetched: 0 };
  // Registered first: its collect() moves the counters below before they are serialized
  // (the VFS keeps plain numbers; counters advance by the difference since the last scrape).
  new Gauge({ name: 'flexfs_mount_up', help: '1 while the mount serves', registers: [registry], collect() {
    const s = fs.io.stats;
    blocks.inc({ op: 'get' }, s.gets - last.gets);
    blocks.inc({ op: 'put' }, s.puts - last.puts);
    hits.inc({ tier: 'memory' }, s.memHits - last.memHits);
    hits.inc({ tier: 'disk' }, s.diskHits - last.diskHits);
    prefetched.inc((s.prefetchBytes ?? 0) - last.prefetchBytes);
    prefetchUnused.inc((s.prefetchUnusedBytes ?? 0) - last.prefetchUnusedBytes);
    last = { gets: s.gets, puts: s.puts, memHits: s.memHits, diskHits: s.diskHits, prefetchBytes: s.prefetchBytes ?? 0, prefetchUnusedBytes: s.prefetchUnusedBytes ?? 0 };
    const sse = sseNotApplied();
    sseMissing.inc(sse - lastSse);
    lastSse = sse;
    const m = fs.cache?.stats;
    if (m) {
      metaCache.inc({ cache: 'entry', result: 'hit' }, m.entryHits - lastMeta.entryHits);
      metaCache.inc({ cache: 'entry', result: 'miss' }, m.entryMisses - lastMeta.entryMisses);
      metaCache.inc({ cache: 'attr', result: 'hit' }, m.attrHits - lastMeta.attrHits);
      metaCache.inc({ cache: 'attr', result: 'miss' }, m.attrMisses - lastMeta.attrMisses);
      metaCache.inc({ cache: 'listing', result: 'hit' }, m.listingHits - lastMeta.listingHits);
      metaCache.inc({ cache: 'listing', result: 'miss' }, m.listingMisses - lastMeta.listingMisses);
      listingsPrefetched.inc(m.listingsPrefetched - lastMeta.listingsPrefetched);
      filesPrefetched.inc((m.filesPrefetched ?? 0) - lastMeta.filesPrefetched);
      changes.inc({ what: 'entries' }, m.changedEntries - lastMeta.changedEntries);
      changes.inc({ what: 'attrs' }, m.changedAttrs - lastMeta.changedAttrs);
      changes.inc({ what: 'data' }, m.changedData - lastMeta.changedData);
      changes.inc({ what: 'resets' }, m.resets - lastMeta.resets);
      lastMeta = { ...m, filesPrefetched: m.filesPrefetched ?? 0 };
    }
    this.set(1);
  } });
  const blocks = new Counter({ name: 'flexfs_mount_block_requests_total', help: 'block objects fetched from (get) or stored to (put) the store', labelNames: ['op'], registers: [registry] });
  const hits = new Counter({ name: 'flexfs_mount_cache_hits_total', help: 'block reads served from a cache tier', labelNames: ['tier'], registers: [registry] });
  const prefetched = new Counter({ name: 'flexfs_mount_prefetch_bytes_total', help: 'block bytes fetched ahead of sequential readers (readahead)', registers: [registry] });
  const prefetchUnused = new Counter({ name: 'flexfs_mount_prefetch_unused_bytes_total', help: 'prefetched block bytes that left the memory cache before any read asked for them', registers: [registry] });
  const sseMissing = new Counter({ name: 'flexfs_mount_sse_not_applied_total', help: 'PUTs that asked for SSE (--sse) and were stored without it (no x-amz-server-side-encryption in the answer)', registers: [registry] });
  const metaCache = new Counter({ name: 'flexfs_mount_meta_cache_requests_total', help: 'lookups (entry), attribute reads (attr) and directory listings (listing) answered from the mount\'s metadata cache (hit) or by the metadata server (miss)', labelNames: ['cache', 'result'], registers: [registry] });
  const listingsPrefetched = new Counter({ name: 'flexfs_mount_listings_prefetched_total', help: 'directory listings fetched ahead of a tree walker (find, du, ls -R) while the mount hears other mounts\' changes', registers: [registry] });
  const filesPrefetched = new Counter({ name: 'flexfs_mount_files_prefetched_total', help: 'files whose first blocks were fetched ahead of a reader walking a directory\'s files in order (grep -r, cat *, cp -r)', registers: [registry] });
  const changes = new Counter({ name: 'flexfs_mount_changes_received_total', help: 'coherent caching: stale entries, attributes and data other mounts\' changes pushed here, and resets (everything dropped after a missed stretch)', labelNames: ['what'], registers: [registry] });
  new Gauge({ name: 'flexfs_mount_dirty_bytes', help: 'bytes written but not yet uploaded', registers: [registry], collect() { this.set(fs.dirtyBytes); } });
  new Gauge({ name: 'flexfs_mount_cache_bytes', help: 'bytes held by a cache tier', labelNames: ['tier'], registers: [registry],
    collect() { this.set({ tier: 'memory' }, fs.memory?.bytes ?? 0); this.set({ tier: 'disk' }, fs.disk?.bytes ?? 0); } });
  return registry;
}
