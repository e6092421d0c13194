import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { MetaEngine } from '../engine.js';
import type { VolumeSettings } from '../types.js';
import { CloseCode, MAX_REQUEST_FRAME_BYTES, RPC_PATH } from '../protocol/index.js';
import { Authenticator } from './auth.js';
import { ServerMetrics } from './metrics.js';
import { createRestHandler } from './rest.js';
import { RpcSession } from './rpc-session.js';
import { ChangeHub } from './change-hub.js';
import { startSessionSweep } from './session-sweep.js';
import type { TlsMaterial } from './tls.js';
import { DEFAULT_MAX_CONNECTIONS, TLS_HANDSHAKE_TIMEOUT_MS, limitConnections } from '../../util/listener-limits.js';
import { META_SERVER_DEFAULTS } from '../../config/defaults.js';

export { loadTls, fingerprintOf, type TlsMaterial } from './tls.js';
export { publicSettings } from './rest.js';

export interface MetaServerOptions {
  engine: MetaEngine;
  /** host:port; port 0 picks a free one. */
  bindAddr: string;
  /** null → plain HTTP/WS (--noSSL). */
  tls: TlsMaterial | null;
  /** From the server's creds file. */
  adminToken?: string;
  blockUser?: string;
  blockPass?: string;
  /** Session time-to-live without heartbeats (default 60 s). */
  sessionTtlSeconds?: number;
  logger?: Logger;
  /** Register Node process metrics (the daemon does; in-process tests do not). */
  processMetrics?: boolean;
  /** Concurrent TCP connections accepted (--maxConnections, default 4096); more are closed at accept. */
  maxConnections?: number;
}

export interface MetaServer {
  readonly host: string;
  readonly port: number;
  /** e.g. https://127.0.0.1:8443 */
  readonly url: string;
  readonly fingerprint?: string;
  readonly metrics: ServerMetrics;
  close(): Promise<void>;
}

export function parseBindAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr.trim());
  if (!m) throw new Error(`bind address "${addr}": expected host:port`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`bind address "${addr}": port out of range`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** Start meta.flexfs on one listener: REST routes plus the RPC WebSocket at /v1/rpc. */
export async function startMetaServer(opts: MetaServerOptions): Promise<MetaServer> {
  const log = opts.logger ?? pino({ level: 'silent' });
  const { engine } = opts;
  const ttlSeconds = opts.sessionTtlSeconds ?? META_SERVER_DEFAULTS.sessionTtlSeconds;
  const heartbeatMs = Math.max(200, Math.floor((ttlSeconds * 1000) / 4));
  const metrics = new ServerMetrics(opts.processMetrics);
  const auth = new Authenticator(engine, opts.adminToken);

  const mountSettings = (v: VolumeSettings): VolumeSettings => {
    if (v.blockStore.credentials === 'ambient' || v.blockStore.blockPass) return v;
    return { ...v, blockStore: { ...v.blockStore, blockUser: opts.blockUser, blockPass: opts.blockPass } };
  };

  const rest = createRestHandler({ engine, auth, metrics, log });
  const onRequest = (req: Parameters<typeof rest>[0], res: Parameters<typeof rest>[1]) => { void rest(req, res); };
  const server: Server = opts.tls
    ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }, onRequest)
    : createHttpServer(onRequest);
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10_000; // requests here are small: a peer that sends no headers is cut
  limitConnections(server, opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS, {
    dropped: () => metrics.connectionsRefused.inc({ reason: 'max-connections' }),
    handshakeTimeout: () => metrics.connectionsRefused.inc({ reason: 'tls-handshake-timeout' }),
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_REQUEST_FRAME_BYTES, perMessageDeflate: false });
  const sessions = new Set<RpcSession>();
  const changes = new ChangeHub((frame) => {
    if (frame.all) { metrics.changesSent.inc({ what: 'resets' }); return; }
    metrics.changesSent.inc({ what: 'frames' });
    metrics.changesSent.inc({ what: 'items' }, (frame.e?.length ?? 0) + (frame.a?.length ?? 0) + (frame.d?.length ?? 0));
  });
  // Servers sharing a redis engine hear each other's sessions' changes.
  const bus = engine.changeBus?.();
  if (bus) await changes.connect(bus);
  server.on('upgrade', (req, socket, head) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== RPC_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
      const s = new RpcSession(ws, {
        engine, auth, metrics, log, ttlSeconds, heartbeatMs, handshakeTimeoutMs: 10_000, mountSettings, changes,
      }, remote);
      sessions.add(s);
      ws.on('close', () => sessions.delete(s));
      // Liveness: a peer that stops answering pings is cut so its socket does not linger.
      let alive = true;
      ws.on('pong', () => { alive = true; });
      const pinger = setInterval(() => {
        if (!alive) { ws.terminate(); return; }
        alive = false;
        ws.ping();
      }, Math.max(1000, heartbeatMs));
      ws.on('close', () => clearInterval(pinger));
    });
  });

  // Expire sessions that stopped heartbeating, releasing their holds.
  const expiry = setInterval(() => {
    engine.expireSessions().then((n) => {
      if (n > 0) { metrics.expired.inc(n); log.info({ expired: n }, 'sessions expired'); auth.invalidate(); }
    }, (e) => log.error({ err: String(e) }, 'session expiry failed'));
  }, Math.max(500, Math.floor((ttlSeconds * 1000) / 2)));
  // Revoked or expired: the socket is closed within one heartbeat interval, idle or not.
  const sweep = startSessionSweep({ engine, auth, log, intervalMs: heartbeatMs, sessions: () => sessions });

  const { host, port } = parseBindAddr(opts.bindAddr);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  const bound = (server.address() as AddressInfo).port;
  const scheme = opts.tls ? 'https' : 'http';
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  log.info({ url: `${scheme}://${urlHost}:${bound}`, fingerprint: opts.tls?.fingerprint, engine: engine.kind }, 'meta.flexfs listening');

  let closing: Promise<void> | null = null;
  return {
    host, port: bound, url: `${scheme}://${urlHost}:${bound}`, fingerprint: opts.tls?.fingerprint, metrics,
    close() {
      closing ??= (async () => {
        clearInterval(expiry);
        sweep.stop();
        for (const s of sessions) s.close(CloseCode.shutdown, 'server shutting down');
        await bus?.close();
        wss.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closing;
    },
  };
}
