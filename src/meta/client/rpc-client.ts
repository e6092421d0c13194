import { WebSocket, type ClientOptions, type RawData } from 'ws';
import type { TLSSocket } from 'node:tls';
import { FsError, type ErrnoName, errnoOf } from '../../errors/index.js';
import type { ChangeListener, VolumeSettings } from '../types.js';
import {
  CloseCode, MAX_RESPONSE_FRAME_BYTES, PROTOCOL_VERSION, isObject, packFrame, parseChangesFrame, unpackFrame,
  type Hello, type Welcome, type WireError,
} from '../protocol/index.js';
import { parseMetaAddr, type MetaAddress } from './address.js';
import { resolveTls, type MetaTlsOptions, type ResolvedTls } from './tls.js';
import { isUntrustedCertError, probeFingerprint, untrustedCertMessage } from '../../util/tls-trust.js';
import { RPC_CLIENT_DEFAULTS, TIMEOUTS } from '../../config/defaults.js';

export interface RpcClientOptions {
  addr: string;
  token: string;
  tls?: MetaTlsOptions;
  volume?: string;
  host: string;
  pid: number;
  mountpoint?: string;
  /** The session reads the volume as of this time (ms), read-only. */
  atTime?: number;
  /** Deadline of every call, reconnects included (default 60 s); then FsError('EIO'). */
  callTimeoutMs?: number;
  /** Deadline of one connection attempt + handshake (default 10 s). */
  connectTimeoutMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /**
   * Hears what other sessions of the volume change (the hello asks the server for `changes`
   * frames); `null` when the socket drops and again after the reconnect: changes made meanwhile
   * go unheard. A silent peer counts as dropped after two unanswered heartbeats.
   */
  onChanges?: ChangeListener;
  /**
   * The connection dropped (`lost`, with why) or is back (`back`: `resumed` the same session, or
   * a new one after it expired). For the mount's log.
   */
  onConnection?: (event: { state: 'lost'; why: string } | { state: 'back'; resumed: boolean; after: number }) => void;
  /** Runs after a reconnect that got a NEW session (the old one expired), before queued calls go out. */
  onNewSession?: (request: (op: string, args: unknown[]) => Promise<unknown>) => Promise<void>;
}

interface Pending {
  id: number;
  op: string;
  frame: Buffer;
  sent: boolean;
  resolve(v: unknown): void;
  reject(e: unknown): void;
  timer: NodeJS.Timeout;
}

function wireToError(err: WireError): Error {
  let known = false;
  try { errnoOf(err.code as ErrnoName); known = true; } catch { /* unknown name */ }
  return new FsError(known ? (err.code as ErrnoName) : 'EIO', err.message);
}

/** Error thrown by the first connection: refused handshakes keep the server's words. */
export class MetaConnectError extends Error {
  constructor(message: string, readonly reason: string) { super(message); this.name = 'MetaConnectError'; }
}

/**
 * The mount side of the RPC socket: one WebSocket at a time, reconnected with exponential
 * backoff and full jitter, resuming the same session when the server still has it. Calls are
 * multiplexed by id; calls in flight when the socket drops are sent again on the next socket
 * (mutating ones carry their opId, so the engine applies them once). Every call has a deadline.
 */
export class RpcClient {
  private readonly addr: MetaAddress;
  private tls!: ResolvedTls;
  private ws: WebSocket | null = null;
  private state: 'idle' | 'connecting' | 'restoring' | 'ready' | 'closed' | 'failed' = 'idle';
  private fatal: Error | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private heartbeatMs = 15_000;
  /** When the connection dropped (0: connected, or never was). */
  private lostAt = 0;
  sessionId = '';
  settings!: VolumeSettings;
  /** Number of successful (re)connections; the first is 1. */
  connects = 0;
  private readonly callTimeoutMs: number;
  private readonly connectTimeoutMs: number;

  constructor(private readonly opts: RpcClientOptions) {
    this.addr = parseMetaAddr(opts.addr);
    this.callTimeoutMs = opts.callTimeoutMs ?? TIMEOUTS.rpcCallMs;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? TIMEOUTS.rpcConnectMs;
  }

  /** A session is open on a live socket: what the server pushes reaches `onChanges`. */
  get hearing(): boolean {
    return this.ws !== null && (this.state === 'restoring' || this.state === 'ready');
  }

  /** First connection: resolves with the session, rejects with a clear error (no retries). */
  async start(): Promise<Welcome> {
    this.tls = await resolveTls(this.addr.secure ? this.opts.tls : undefined);
    this.state = 'connecting';
    try {
      const welcome = await this.connectOnce();
      return welcome;
    } catch (e) {
      this.state = 'closed';
      throw e;
    }
  }

  /** Open one socket and run the handshake; resolves on welcome, rejects on refusal or failure. */
  private connectOnce(): Promise<Welcome> {
    return new Promise<Welcome>((resolve, reject) => {
      let settled = false;
      let lastError = '';
      let untrusted = false;
      const ws = new WebSocket(this.addr.wsUrl, {
        maxPayload: MAX_RESPONSE_FRAME_BYTES,
        perMessageDeflate: false,
        handshakeTimeout: this.connectTimeoutMs,
        rejectUnauthorized: this.tls.rejectUnauthorized,
        // only defined keys: tls.connect trips over explicit undefined here.
        // checkServerIdentity is forwarded to tls.connect (ws types it narrower than Node does).
        ...(this.tls.ca ? { ca: this.tls.ca } : {}),
        ...(this.tls.checkServerIdentity ? { checkServerIdentity: this.tls.checkServerIdentity } : {}),
      } as unknown as ClientOptions);
      this.ws = ws;
      const timer = setTimeout(() => fail(new MetaConnectError(`meta server ${this.addr.httpBase} did not answer the handshake within ${this.connectTimeoutMs} ms`, 'timeout')), this.connectTimeoutMs);
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ws.terminate();
        reject(e);
      };
      if (this.tls.pin) {
        ws.on('upgrade', (res) => {
          const fp = (res.socket as TLSSocket).getPeerCertificate?.()?.fingerprint256;
          if (fp !== this.tls.pin) fail(new MetaConnectError(this.untrustedMessage(fp), 'tls'));
        });
      }
      ws.on('error', (e) => { lastError = e.message; untrusted ||= isUntrustedCertError(e); });
      ws.on('open', () => {
        const hello: Hello = {
          t: 'hello', v: PROTOCOL_VERSION, token: this.opts.token, volume: this.opts.volume,
          host: this.opts.host, pid: this.opts.pid, mountpoint: this.opts.mountpoint,
          resume: this.sessionId || undefined, watch: this.opts.onChanges ? true : undefined,
        };
        if (this.opts.atTime !== undefined) hello.atTime = this.opts.atTime;
        ws.send(packFrame(hello));
      });
      ws.on('message', (data: RawData) => {
        if (!settled) {
          let v: unknown;
          try { v = unpackFrame(data as Buffer); } catch { return fail(new MetaConnectError('meta server sent a malformed handshake', 'protocol')); }
          if (isObject(v) && v.t === 'refused') {
            const msg = String(v.message ?? 'refused');
            const reason = String(v.reason);
            const text = reason === 'version'
              ? `meta server ${this.addr.httpBase} refused the session: ${msg} (upgrade the older side)`
              : `meta server ${this.addr.httpBase} refused the session: ${msg}`;
            return fail(new MetaConnectError(text, reason));
          }
          if (!isObject(v) || v.t !== 'welcome') return fail(new MetaConnectError('meta server sent an unexpected handshake frame', 'protocol'));
          settled = true;
          clearTimeout(timer);
          this.onWelcome(v as unknown as Welcome);
          resolve(v as unknown as Welcome);
          return;
        }
        this.onFrame(data as Buffer);
      });
      ws.on('close', (code, reason) => {
        if (!settled) {
          if (untrusted) {
            // Say which certificate the server shows, so the operator can compare and pin it.
            void probeFingerprint(this.addr.host, this.addr.port, this.connectTimeoutMs).then((fp) => fp, () => undefined)
              .then((fp) => fail(new MetaConnectError(this.untrustedMessage(fp), 'tls')));
            return;
          }
          fail(new MetaConnectError(`cannot connect to meta server ${this.addr.httpBase}: ${lastError || `closed (${code}) ${reason.toString()}`}`, 'network'));
          return;
        }
        if (this.ws === ws) this.onDisconnect(code, reason.toString());
      });
    });
  }

  /** An untrusted or unpinned server certificate: which one it is and the flag that pins it. */
  private untrustedMessage(seen: string | undefined): string {
    const volume = this.opts.volume ?? '<volume>';
    return untrustedCertMessage({
      server: `meta server ${this.addr.httpBase}`, seen, expected: this.tls.expected,
      fix: (fp) => `mount.flexfs init creds ${volume} --metaAddr ${this.opts.addr} --metaFingerprint ${fp}`,
      alternatives: 'or --metaCA with a copy of its cert.pem, or --trustOnFirstUse',
    });
  }

  private onWelcome(w: Welcome): void {
    const hadSession = this.connects > 0;
    this.sessionId = w.sessionId;
    this.settings = w.settings;
    this.heartbeatMs = w.heartbeatMs;
    this.attempt = 0;
    this.connects++;
    this.state = 'restoring';
    // Changes made while no socket was open went unheard: whatever the listener caches is suspect.
    if (hadSession) this.opts.onChanges?.(null);
    if (hadSession && this.lostAt) this.opts.onConnection?.({ state: 'back', resumed: w.resumed, after: Date.now() - this.lostAt });
    this.lostAt = 0;
    const restore = hadSession && !w.resumed && this.opts.onNewSession
      ? this.opts.onNewSession((op, args) => this.request(op, args, true)).catch(() => undefined)
      : Promise.resolve();
    void restore.then(() => {
      if (this.state !== 'restoring') return;
      this.state = 'ready';
      for (const p of this.pending.values()) if (!p.sent) this.transmit(p);
      this.startHeartbeat();
    });
  }

  private onFrame(data: Buffer): void {
    let v: unknown;
    try { v = unpackFrame(data); } catch { this.ws?.terminate(); return; }
    const changes = parseChangesFrame(v);
    if (changes !== undefined) { this.opts.onChanges?.(changes); return; }
    if (!isObject(v) || typeof v.id !== 'number') return;
    const p = this.pending.get(v.id);
    if (!p) return; // answer to a call that already timed out
    this.pending.delete(v.id);
    clearTimeout(p.timer);
    if ('err' in v) p.reject(wireToError(v.err as WireError));
    else p.resolve(v.ok === null ? undefined : v.ok);
  }

  private onDisconnect(code: number, reason: string): void {
    this.stopHeartbeat();
    this.ws = null;
    // From now on changes go unheard: whatever the listener caches may go stale (and the
    // reconnect says so again for what changed in between).
    this.opts.onChanges?.(null);
    if (this.state !== 'closed' && this.state !== 'failed' && !this.lostAt) {
      this.lostAt = Date.now();
      this.opts.onConnection?.({ state: 'lost', why: reason || `socket closed (${code})` });
    }
    for (const p of this.pending.values()) p.sent = false;
    if (this.state === 'closed' || this.state === 'failed') return;
    if (code === CloseCode.auth || code === CloseCode.version) {
      return this.failAll(new FsError('EACCES', `meta server ended the session: ${reason || 'refused'}`));
    }
    // The server no longer has the session: the next hello opens a new one (holds are restored).
    if (code === CloseCode.sessionExpired) this.sessionId = '';
    this.state = 'connecting';
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer) return;
    const base = this.opts.backoffInitialMs ?? RPC_CLIENT_DEFAULTS.backoffInitialMs;
    const max = this.opts.backoffMaxMs ?? RPC_CLIENT_DEFAULTS.backoffMaxMs;
    const delay = Math.random() * Math.min(max, base * 2 ** this.attempt) + 20;
    this.attempt = Math.min(this.attempt + 1, 20);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.state !== 'connecting') return;
      this.connectOnce().catch((e: MetaConnectError) => {
        if (this.state !== 'connecting') return;
        if (e.reason === 'auth' || e.reason === 'version' || e.reason === 'volume' || e.reason === 'tls') {
          this.failAll(new FsError('EACCES', e.message));
          return;
        }
        this.scheduleReconnect();
      });
    }, delay);
    this.reconnectTimer.unref?.();
  }

  private failAll(e: Error): void {
    this.state = 'failed';
    this.fatal = e;
    for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(e); }
    this.pending.clear();
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    this.heartbeatTimer = setInterval(() => {
      const ws = this.ws;
      this.request('heartbeat', [], true, this.heartbeatMs * 2).catch(() => {
        // No answer in two intervals: treat the socket as dead and reconnect.
        if (this.ws === ws && ws) ws.terminate();
      });
    }, this.heartbeatMs);
    this.heartbeatTimer.unref?.();
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  private transmit(p: Pending): void {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    p.sent = true;
    this.ws.send(p.frame);
  }

  /** Send a call; `now` bypasses the ready gate (handshake restore and heartbeats). */
  private request(op: string, args: unknown[], now = false, timeoutMs = this.callTimeoutMs): Promise<unknown> {
    if (this.fatal) return Promise.reject(this.fatal);
    if (this.state === 'closed' || this.state === 'idle') return Promise.reject(new FsError('EIO', 'metadata session is closed'));
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new FsError('EIO', `metadata call ${op} got no answer within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      const p: Pending = { id, op, frame: packFrame({ id, op, args }), sent: false, resolve, reject, timer };
      this.pending.set(id, p);
      if (this.state === 'ready' || now) this.transmit(p);
    });
  }

  call(op: string, args: unknown[]): Promise<unknown> {
    return this.request(op, args);
  }

  /** End the session (bye) and the socket; pending calls fail with EIO. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    if (this.state === 'ready') await this.request('bye', [], true, 2000).catch(() => undefined);
    this.state = 'closed';
    this.stopHeartbeat();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(new FsError('EIO', 'metadata session closed')); }
    this.pending.clear();
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => { ws.terminate(); resolve(); }, 1000);
        ws.once('close', () => { clearTimeout(t); resolve(); });
        ws.close(CloseCode.normal, 'client closing');
      });
    }
  }
}
