import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import {
  StoreError, type GetOptions, type ListOptions, type ListPage, type ObjectInfo, type ObjectStore,
  type PutOptions, type RequestOptions,
} from '../store/types.js';
import { SseRefusedError } from '../store/sse.js';
import { pathForKey } from './keys.js';
import { rendezvousOrder } from './rendezvous.js';
import { TIMEOUTS } from '../config/defaults.js';
import { NOT_PINNED, isUntrustedCertError, parseFingerprint, probeFingerprint, untrustedCertMessage } from '../util/tls-trust.js';

/**
 * Client side of a proxy group: an ObjectStore that sends each block GET/PUT to one proxy chosen by
 * rendezvous hashing over the group, falls over to the next proxy in that key's order, and finally
 * to the bucket directly (`direct`). A proxy that failed is skipped for `coolDownMs` and then tried
 * again. head/delete/list always go to the bucket (proxies only carry block data), so a get after
 * a delete may still be served from a proxy's cache: harmless for flexfs, which deletes only blocks
 * no file refers to (gc) and never reuses a block id.
 *
 * TLS: proxies use a self-signed certificate by default. Give its PEM as `ca` (pins that cert and
 * checks the host name against its SANs; several PEMs for several proxies), or `fingerprint256`
 * (pin by SHA-256 fingerprint, one per proxy, no host name check), or `insecure` (no check; test setups only). `noSSL` talks plain HTTP.
 */
export interface ProxyGroupOptions {
  /** `host:port` of every proxy in the group. */
  proxies: string[];
  /** Bearer token of the proxies. */
  token: string;
  /** The bucket itself: last fallback, and target of head/delete/list. */
  direct: ObjectStore;
  tls?: { ca?: string | string[]; fingerprint256?: string | string[]; insecure?: boolean };
  noSSL?: boolean;
  /** Ask the proxies for SSE-S3 on every PUT (the mount's or volume's sse setting). */
  sse?: boolean;
  /** How long a failed proxy is skipped (default 30 s). */
  coolDownMs?: number;
  /** Deadline of one request to a proxy (default 30 s). */
  timeoutMs?: number;
  /** Told when a proxy fails or comes back (never given secrets). */
  onProxyEvent?: (event: { proxy: string; state: 'down' | 'up'; reason?: string }) => void;
}

/** Counters for observability and tests. */
export interface ProxyGroupStats {
  /** Requests answered by each proxy. */
  byProxy: Record<string, number>;
  /** Requests that fell through to the bucket directly. */
  direct: number;
  /** Proxy attempts that failed and moved on. */
  failovers: number;
}

/** A proxy answered in a way that says "try elsewhere"; `markDown` when the proxy itself is at fault. */
class ProxyAttemptError extends Error {
  constructor(message: string, readonly markDown: boolean, readonly skipOtherProxies = false) {
    super(message);
  }
}

export function parseProxyList(list: string | string[]): string[] {
  const items = (Array.isArray(list) ? list : list.split(',')).map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(item);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new Error(`proxy address "${item}" is not host:port`);
  }
  if (new Set(items).size !== items.length) throw new Error('proxy list names the same proxy twice');
  return items;
}

export class ProxyGroupStore implements ObjectStore {
  readonly description: string;
  readonly stats: ProxyGroupStats = { byProxy: {}, direct: 0, failovers: 0 };
  private readonly proxies: string[];
  /** The pinned proxy certificate fingerprints (proxyFingerprint), for error messages. */
  private readonly pins: string[] = [];
  private readonly downUntil = new Map<string, number>();
  private readonly agent: http.Agent;
  private readonly coolDownMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly opts: ProxyGroupOptions) {
    this.proxies = parseProxyList(opts.proxies);
    if (this.proxies.length === 0) throw new Error('proxy group is empty');
    if (!opts.token) throw new Error('proxy group needs the proxies\' token');
    this.coolDownMs = opts.coolDownMs ?? TIMEOUTS.proxyCoolDownMs;
    this.timeoutMs = opts.timeoutMs ?? TIMEOUTS.proxyRequestMs;
    for (const p of this.proxies) this.stats.byProxy[p] = 0;
    this.description = `proxies(${this.proxies.join(',')}) → ${opts.direct.description}`;
    // Idle sockets are dropped after 30 s, before the proxy's 65 s keep-alive timeout.
    const common = { keepAlive: true, maxSockets: 64, timeout: 30_000 };
    if (opts.noSSL) {
      this.agent = new http.Agent(common);
    } else {
      const tlsOpts = opts.tls ?? {};
      const pins = tlsOpts.fingerprint256 === undefined ? [] : (Array.isArray(tlsOpts.fingerprint256) ? tlsOpts.fingerprint256 : tlsOpts.fingerprint256.split(','));
      const pin = pins.length > 0 ? new Set(pins.map((f) => parseFingerprint(f, 'proxyFingerprint'))) : undefined;
      this.pins = pin ? [...pin] : [];
      const agentOpts: https.AgentOptions = { ...common, rejectUnauthorized: !(tlsOpts.insecure || pin), ...(pin ? { maxCachedSessions: 0 } : {}) };
      if (tlsOpts.ca) agentOpts.ca = tlsOpts.ca;
      const agent = new https.Agent(agentOpts);
      if (pin) {
        // Fingerprint pinning: the chain cannot be verified (self-signed, no CA given), so the
        // socket is handed to HTTP only after its certificate matched, before any byte (the
        // bearer token) is written. Sessions are not resumed, so every socket is checked.
        (agent as unknown as { createConnection: unknown }).createConnection = (options: tls.ConnectionOptions, cb: (err: Error | null, s?: Duplex) => void) => {
          const socket = tls.connect({ ...options, rejectUnauthorized: false, session: undefined });
          const onError = (e: Error) => cb(e);
          socket.once('error', onError);
          socket.once('secureConnect', () => {
            socket.off('error', onError);
            const fp = socket.getPeerCertificate()?.fingerprint256?.toUpperCase() ?? '';
            if (pin.has(fp)) cb(null, socket);
            else {
              socket.destroy();
              cb(Object.assign(new Error('proxy certificate does not match the pinned fingerprint'), { code: NOT_PINNED, seen: fp }));
            }
          });
          return undefined;
        };
      }
      this.agent = agent;
    }
  }

  async get(key: string, options?: GetOptions): Promise<Buffer> {
    const range = options?.range;
    if (range && range.end <= range.start) {
      // HTTP cannot ask for zero bytes; a missing key must still be NotFound (ObjectStore contract).
      if (!(await this.opts.direct.head(key, options))) throw new StoreError('NotFound', `no object ${key}`, { key });
      return Buffer.alloc(0);
    }
    return this.viaProxies(key, options, async (proxy, signal) => (await this.request(proxy, 'GET', key, signal, undefined, options?.range)).body,
      () => this.opts.direct.get(key, options));
  }

  async put(key: string, body: Buffer, options?: PutOptions): Promise<void> {
    const sse = !!this.opts.sse || !!options?.sse;
    await this.viaProxies(key, options, async (proxy, signal) => {
      const res = await this.request(proxy, 'PUT', key, signal, body, undefined, sse);
      // The proxy echoes the bucket's x-amz-server-side-encryption (none: not applied, or an old proxy).
      const echoed = res.headers[SSE_HEADER];
      options?.onStored?.({ sse: typeof echoed === 'string' && echoed ? echoed : undefined, where: `proxy.flexfs at ${proxy}` });
    }, () => this.opts.direct.put(key, body, options));
  }

  head(key: string, options?: RequestOptions): Promise<ObjectInfo | null> {
    return this.opts.direct.head(key, options);
  }

  delete(key: string, options?: RequestOptions): Promise<void> {
    return this.opts.direct.delete(key, options);
  }

  list(prefix: string, options?: ListOptions): Promise<ListPage> {
    return this.opts.direct.list(prefix, options);
  }

  async close(): Promise<void> {
    this.agent.destroy();
    await this.opts.direct.close();
  }

  /** Proxies for a key in rendezvous order, those cooling down left out. */
  candidates(key: string): string[] {
    const now = Date.now();
    return rendezvousOrder(this.proxies, key).filter((p) => (this.downUntil.get(p) ?? 0) <= now);
  }

  private async viaProxies<T>(key: string, options: RequestOptions | undefined,
    attempt: (proxy: string, signal: AbortSignal) => Promise<T>, direct: () => Promise<T>): Promise<T> {
    for (const proxy of this.candidates(key)) {
      const signals = [AbortSignal.timeout(this.timeoutMs)];
      if (options?.signal) signals.push(options.signal);
      try {
        const result = await attempt(proxy, AbortSignal.any(signals));
        this.stats.byProxy[proxy]++;
        if (this.downUntil.delete(proxy)) this.opts.onProxyEvent?.({ proxy, state: 'up' });
        return result;
      } catch (e) {
        if (options?.signal?.aborted) throw new StoreError('Aborted', `request for ${key} aborted`, { key });
        if (!(e instanceof ProxyAttemptError)) throw e; // definitive answers (NotFound) pass through
        this.stats.failovers++;
        if (e.markDown) {
          this.downUntil.set(proxy, Date.now() + this.coolDownMs);
          this.opts.onProxyEvent?.({ proxy, state: 'down', reason: e.message });
        }
        if (e.skipOtherProxies) break;
      }
    }
    this.stats.direct++;
    return direct();
  }

  /** A proxy certificate the mount does not trust: which one it shows and the flag that pins it. */
  private async untrustedMessage(proxy: string, e: Error): Promise<string> {
    const [host, port] = splitHostPort(proxy);
    const seen = (e as { seen?: string }).seen ?? await probeFingerprint(host, port, this.timeoutMs).catch(() => undefined);
    return untrustedCertMessage({
      server: `proxy ${proxy}`, seen, expected: this.pins.length ? this.pins.join(',') : undefined,
      fix: (fp) => `mount.flexfs init creds <volume> --metaAddr <host:port> --proxyFingerprint ${[...this.pins.filter((p) => p !== fp), fp].join(',')}`,
      alternatives: `or --proxyCA with the proxies' cert.pem files, or --proxyTrustOnFirstUse ${this.proxies.join(',')}`,
    });
  }

  private request(proxy: string, method: 'GET' | 'PUT', key: string, signal: AbortSignal, body?: Buffer,
    range?: { start: number; end: number }, sse = false): Promise<{ body: Buffer; headers: http.IncomingHttpHeaders }> {
    const [host, port] = splitHostPort(proxy);
    const headers: Record<string, string | number> = { authorization: `Bearer ${this.opts.token}` };
    if (body) headers['content-length'] = body.length;
    if (sse) headers[SSE_HEADER] = 'AES256';
    if (range) headers.range = `bytes=${range.start}-${range.end - 1}`; // never empty: get() answers those
    const mod = this.opts.noSSL ? http : https;
    return new Promise<{ body: Buffer; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
      const req = mod.request({ host, port, method, path: pathForKey(key), headers, agent: this.agent, signal }, (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => { chunks.push(c); size += c.length; });
        res.on('error', (e) => reject(new ProxyAttemptError(`${proxy}: response broke off (${e.message})`, true)));
        res.on('aborted', () => reject(new ProxyAttemptError(`${proxy}: response broke off`, true)));
        res.on('end', () => {
          const expected = Number(res.headers['content-length'] ?? NaN);
          if (!res.complete || (Number.isFinite(expected) && size !== expected)) {
            reject(new ProxyAttemptError(`${proxy}: response broke off`, true));
            return;
          }
          if (status === 200 || status === 206 || status === 204) resolve({ body: Buffer.concat(chunks, size), headers: res.headers });
          else if (status === 404) reject(new StoreError('NotFound', `no object ${key}`, { key, status }));
          // The bucket refused the SSE the proxy asked for: definitive, never retried around the
          // proxy (writing the block directly would drop the proxy's --sse policy).
          else if (status === 400 && res.headers[REFUSED_HEADER] === 'sse') {
            reject(new SseRefusedError(`${proxy}: ${Buffer.concat(chunks, size).toString('utf8', 0, 500).trim()}`, { key, status }));
          }
          else if (status === 400) reject(new ProxyAttemptError(`${proxy}: refused the request (400)`, false, true));
          else if (status === 502 || status === 504) reject(new ProxyAttemptError(`${proxy}: bucket error via proxy (${status})`, false));
          // Busy (its GET or PUT queue is full; nothing was stored): try elsewhere now, but it is not down.
          else if (status === 503) reject(new ProxyAttemptError(`${proxy}: busy (503)`, false));
          else reject(new ProxyAttemptError(`${proxy}: HTTP ${status}`, true));
        });
      });
      req.on('error', (e) => {
        if (!isUntrustedCertError(e)) { reject(new ProxyAttemptError(`${proxy}: ${(e as NodeJS.ErrnoException).code ?? e.name}`, true)); return; }
        void this.untrustedMessage(proxy, e).then((m) => reject(new ProxyAttemptError(m, true)));
      });
      req.end(body);
    });
  }
}

/** Request header a proxy honours on PUT: store this object with SSE-S3 (as in S3 itself). */
export const SSE_HEADER = 'x-amz-server-side-encryption';
/** Response header of a proxy's 400 when the bucket refused server-side encryption. */
export const REFUSED_HEADER = 'x-flexfs-refused';

function splitHostPort(addr: string): [string, number] {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i).replace(/^\[|\]$/g, ''), Number(addr.slice(i + 1))];
}
