import { createHash, timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { withSseCheck } from '../store/sse.js';
import { StoreError, type ObjectStore } from '../store/types.js';
import { REFUSED_HEADER, SSE_HEADER } from './group.js';
import type { DiskFrameCache } from '../cache/disk.js';
import { BadKeyError, keyFromPath, normalizePrefix } from './keys.js';
import { createProxyMetrics, type ProxyMetrics } from './metrics.js';
import { SingleFlight } from '../util/singleflight.js';
import { HttpError } from '../util/http-error.js';
import { PROXY_DEFAULTS, TIMEOUTS } from '../config/defaults.js';
import { GetLimits, type GetLimitOptions } from './get-limits.js';
import { AdmissionRefused, type Admission } from './admission.js';
import { putAdmission, type PutLimitOptions } from './put-limits.js';
import { DEFAULT_MAX_CONNECTIONS, TLS_HANDSHAKE_TIMEOUT_MS, limitConnections } from '../util/listener-limits.js';

/** Logger shape (pino-compatible). Never given secrets. */
export interface ProxyLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ProxyServerOptions {
  /** Where blocks live (openStore of the bucket settings; SSE is applied by that store). */
  upstream: ObjectStore;
  cache: DiskFrameCache;
  /** Key-less integrity check of a stored frame (BlockCodec.verify); throws when it fails. */
  verify: (key: string, frame: Buffer) => Promise<void>;
  /** Bearer token clients must present on /v1/ routes. */
  token: string;
  /** Only keys under this prefix are served ('' = any well-formed key). */
  prefix?: string;
  /**
   * --sse: the upstream store adds SSE to every PUT. Either way each SSE PUT's answer is checked
   * (withSseCheck): not applied is counted and warned about once; 'require' refuses the write.
   */
  sse?: boolean | 'require';
  /** Serve any well-formed key, not only block object keys (default false). */
  anyKey?: boolean;
  /** PEM cert and key for HTTPS; null serves plain HTTP (--noSSL). */
  tls: { cert: string; key: string } | null;
  log?: ProxyLogger;
  /** Largest PUT body accepted (default 64 MiB; blocks are at most 8 MiB plus the frame header). */
  maxObjectBytes?: number;
  /** Deadline for one request to the bucket (default 60 s). */
  upstreamTimeoutMs?: number;
  /** Include Node process metrics (default true). */
  processMetrics?: boolean;
  /** Concurrent TCP connections accepted (--maxConnections, default 4096); more are closed at accept. */
  maxConnections?: number;
  /** GETs holding frames, bucket fetches, queued GETs at once (--maxGets, --maxFetches, --maxQueuedGets). */
  getLimits?: GetLimitOptions;
  /** PUTs holding their body and queued PUTs at once (--maxPuts, --maxQueuedPuts). */
  putLimits?: PutLimitOptions;
}

export interface ProxyServer {
  readonly metrics: ProxyMetrics;
  listen(host: string, port: number): Promise<AddressInfo>;
  /** Stop accepting, let in-flight requests finish (up to `graceMs`), then drop what is left. */
  close(graceMs?: number): Promise<void>;
}

const noopLog: ProxyLogger = { debug() {}, info() {}, warn() {}, error() {} };

export function createProxyServer(opts: ProxyServerOptions): ProxyServer {
  if (!opts.token) throw new Error('proxy token must not be empty');
  const log = opts.log ?? noopLog;
  const keyRules = { prefix: normalizePrefix(opts.prefix), anyKey: opts.anyKey ?? false };
  const maxBody = opts.maxObjectBytes ?? PROXY_DEFAULTS.maxObjectBytes;
  const upstreamTimeoutMs = opts.upstreamTimeoutMs ?? TIMEOUTS.proxyUpstreamMs;
  const tokenDigest = digest(opts.token);
  const { cache, upstream, verify } = opts;
  const limits = new GetLimits(opts.getLimits);
  const puts = putAdmission(opts.putLimits);
  const metrics = createProxyMetrics(() => ({ bytes: cache.bytes, count: cache.count, quota: cache.capacityBytes }), opts.processMetrics ?? true, limits, puts);
  cache.onEvict = () => metrics.evictions.inc();
  const flights = new SingleFlight<string, Buffer>();
  const pendingWrites = new Set<Promise<void>>();
  /** Verified frames whose cache file is still being written: served from memory meanwhile. */
  const writing = new Map<string, Buffer>();

  function cacheInBackground(key: string, frame: Buffer): Promise<void> {
    writing.set(key, frame);
    const p = cache.write(key, frame)
      .catch((e) => log.warn({ err: errText(e) }, 'caching a fetched block failed'))
      .finally(() => {
        pendingWrites.delete(p);
        if (writing.get(key) === frame) writing.delete(key);
      });
    pendingWrites.add(p);
    return p;
  }

  function authorized(req: IncomingMessage): boolean {
    const h = req.headers.authorization;
    if (typeof h !== 'string' || !h.startsWith('Bearer ')) return false;
    return timingSafeEqual(digest(h.slice(7).trim()), tokenDigest);
  }

  async function timedUpstream<T>(op: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const end = metrics.upstreamSeconds.startTimer({ op });
    try {
      return await fn(AbortSignal.timeout(upstreamTimeoutMs));
    } catch (e) {
      if (!(e instanceof StoreError && e.kind === 'NotFound')) metrics.upstreamErrors.inc({ op });
      throw e;
    } finally {
      end();
    }
  }

  /**
   * Miss path, shared by concurrent misses on one key: fetch, verify, cache — within the fetch
   * limit, whose slot is held until the frame is in the disk cache.
   */
  function fetchAndCache(key: string): Promise<Buffer> {
    return limits.fetch(async () => {
      const frame = await timedUpstream('get', (signal) => upstream.get(key, { signal }));
      metrics.upstreamBytes.inc({ op: 'get' }, frame.length);
      try {
        await verify(key, frame);
      } catch {
        metrics.verifyFailures.inc({ source: 'upstream' });
        throw new HttpError(502, 'object in the bucket fails verification');
      }
      return frame;
    }, (frame) => cacheInBackground(key, frame)); // the client need not wait for the cache file (close() does)
  }

  /** Wait for `admission` to let this request run; busy is 503 (counted in `refused`). */
  async function admitted(admission: Pick<Admission, 'admit'>, res: ServerResponse, refused: { inc(): void }): Promise<void> {
    try {
      await admission.admit(res);
    } catch (e) {
      if (!(e instanceof AdmissionRefused)) throw e;
      if (e.reason === 'busy') {
        refused.inc();
        res.setHeader('retry-after', '1');
        throw new HttpError(503, e.message);
      }
      throw new HttpError(499, e.message); // nobody to answer
    }
  }

  async function handleGet(key: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Bounded memory: the frame is read, fetched and sent only within a GET slot.
    await admitted(limits, res, metrics.getsRefused);
    let source = 'hit';
    const inMemory = writing.get(key);
    let frame = inMemory ?? (await cache.get(key));
    if (inMemory) {
      metrics.hits.inc(); // verified when fetched
    } else if (frame) {
      try {
        await verify(key, frame);
        metrics.hits.inc();
      } catch {
        // Never serve a bad frame: drop it and fetch a good copy.
        metrics.verifyFailures.inc({ source: 'cache' });
        log.warn({ key }, 'cached frame failed verification; refetching');
        await cache.drop(key);
        frame = undefined;
      }
    }
    if (!frame) {
      source = 'miss';
      metrics.misses.inc();
      frame = await flights.run(key, () => fetchAndCache(key));
    }
    let body = frame;
    let status = 200;
    const range = parseRange(req.headers.range);
    if (range) {
      status = 206;
      const end = Math.min(range.end, frame.length);
      body = frame.subarray(Math.min(range.start, end), end);
      res.setHeader('content-range', `bytes ${range.start}-${Math.max(range.start, end - 1)}/${frame.length}`);
    }
    res.writeHead(status, { 'content-type': 'application/octet-stream', 'content-length': body.length, 'x-flexfs-cache': source });
    res.end(body);
    metrics.bytesServed.inc(body.length);
  }

  /** PUTs go through the SSE check: not applied is counted and warned about once; 'require' refuses. */
  const sseChecked = withSseCheck(upstream, {
    mode: opts.sse === 'require' ? 'require' : opts.sse ? 'on' : 'off',
    onNotApplied: (e) => {
      metrics.sseNotApplied.inc();
      if (e.first) log.warn({ where: e.where, refused: e.refused }, e.message);
    },
  });

  async function handlePut(key: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (Number(req.headers['content-length'] ?? NaN) > maxBody) throw new HttpError(413, `body larger than ${maxBody} bytes`);
    // Bounded memory: the body is read and held only within a PUT slot (queued PUTs are not read).
    await admitted(puts, res, metrics.putsRefused);
    const body = await readBody(req, maxBody);
    try {
      await verify(key, body);
    } catch {
      metrics.verifyFailures.inc({ source: 'client' });
      throw new HttpError(400, 'body is not a valid block frame for this key');
    }
    // SSE when the proxy runs with --sse (its upstream store adds it) or the client asks for it.
    const sse = req.headers[SSE_HEADER] === 'AES256';
    let applied: string | undefined;
    try {
      await timedUpstream('put', (signal) => sseChecked.put(key, body, { signal, sse, onStored: (r) => { applied = r.sse; } }));
      metrics.bytesReceived.inc(body.length);
      metrics.upstreamBytes.inc({ op: 'put' }, body.length);
    } catch (e) {
      if (e instanceof StoreError && e.kind === 'InvalidRequest' && (sse || opts.sse)) {
        res.setHeader(REFUSED_HEADER, 'sse');
        throw new HttpError(400, e.message);
      }
      throw e;
    }
    await cache.write(key, body).catch((e) => log.warn({ err: errText(e) }, 'caching a written block failed'));
    // Tell the client whether the bucket encrypted the object, as S3 does (its own --sse check).
    res.writeHead(204, applied ? { [SSE_HEADER]: applied } : {});
    res.end();
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
      return;
    }
    if (path === '/metrics' && req.method === 'GET') {
      const text = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(text);
      return;
    }
    if (!path.startsWith('/v1/')) throw new HttpError(404, 'no such route');
    if (!authorized(req)) {
      res.setHeader('www-authenticate', 'Bearer');
      throw new HttpError(401, 'missing or wrong bearer token');
    }
    const key = keyFromPath(path, keyRules);
    if (req.method === 'GET') return handleGet(key, req, res);
    if (req.method === 'PUT') return handlePut(key, req, res);
    res.setHeader('allow', 'GET, PUT');
    throw new HttpError(405, 'method not allowed');
  }

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const started = process.hrtime.bigint();
    route(req, res)
      .catch((e) => {
        const status = statusOf(e);
        if (status >= 500 && status !== 503) log.warn({ method: req.method, path: safePath(req.url), status, err: errText(e) }, 'request failed');
        if (!res.headersSent) {
          res.writeHead(status, { 'content-type': 'text/plain' });
          res.end(messageOf(e, status) + '\n');
        } else {
          res.destroy();
        }
        // Unread request bodies would otherwise keep the socket busy.
        if (!req.complete) req.resume();
      })
      .finally(() => {
        metrics.requests.inc({ method: req.method ?? '?', status: String(res.statusCode) });
        log.debug({ method: req.method, path: safePath(req.url), status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'request');
      });
  };

  const server = opts.tls
    ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }, handler)
    : http.createServer(handler);
  limitConnections(server, opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS, {
    dropped: () => metrics.connectionsRefused.inc({ reason: 'max-connections' }),
    handshakeTimeout: () => metrics.connectionsRefused.inc({ reason: 'tls-handshake-timeout' }),
  });
  // Longer than clients' idle-socket timeout, so a client never reuses a socket we just closed.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 70_000;
  server.requestTimeout = 5 * 60_000;

  return {
    metrics,
    listen(host, port) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    async close(graceMs = 5000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
      await Promise.allSettled([...pendingWrites]);
    },
  };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function statusOf(e: unknown): number {
  if (e instanceof HttpError) return e.status;
  if (e instanceof BadKeyError) return 400;
  if (e instanceof StoreError) {
    if (e.kind === 'NotFound') return 404;
    if (e.kind === 'Timeout' || e.kind === 'Aborted') return 504;
    return 502;
  }
  if ((e as { name?: string })?.name === 'TimeoutError') return 504;
  return 500;
}

function messageOf(e: unknown, status: number): string {
  if (e instanceof HttpError || e instanceof BadKeyError) return e.message;
  if (status === 404) return 'no such block';
  if (status === 504) return 'bucket request timed out';
  if (status === 502) return `bucket request failed${e instanceof StoreError ? ` (${e.kind})` : ''}`;
  return 'internal error';
}

function errText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** The request path without query, capped, for logs (keys are not secret; tokens never are in paths). */
function safePath(url: string | undefined): string {
  return (url ?? '').split('?')[0].slice(0, 300);
}

/** `bytes=a-b` (inclusive) → { start, end exclusive }; open-ended `bytes=a-` too. Others: ignored. */
export function parseRange(h: string | undefined): { start: number; end: number } | null {
  if (!h) return null;
  const m = /^bytes=(\d+)-(\d*)$/.exec(h.trim());
  if (!m) return null;
  const start = Number(m[1]);
  const end = m[2] === '' ? Number.MAX_SAFE_INTEGER : Number(m[2]) + 1;
  if (end < start) return null;
  return { start, end };
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) throw new HttpError(413, `body larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, `body larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}
