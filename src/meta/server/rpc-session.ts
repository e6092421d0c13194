import type { WebSocket, RawData } from 'ws';
import type { Logger } from 'pino';
import { FsError, isFsError } from '../../errors/index.js';
import { hasRecordAccess, type MetaEngine, type TokenInfo } from '../engine.js';
import type { MetaStore, VolumeSettings } from '../types.js';
import {
  CloseCode, PROTOCOL_VERSION, SERVER_VERSION, META_OPS, SESSION_OPS,
  packFrame, unpackFrame, parseHello, parseRequest, validateArgs,
  type Hello, type Refused, type Welcome, type WireError, type RefusedReason,
} from '../protocol/index.js';
import { changesOf, type ChangesFrame } from '../protocol/index.js';
import { openVolumeAt } from '../history/open-at.js';
import type { Authenticator } from './auth.js';
import type { ChangeHub, ChangeSubscriber } from './change-hub.js';
import type { ServerMetrics } from './metrics.js';
import { SessionScope } from './session-scope.js';
import { isWithin } from '../core/ancestry.js';

export interface SessionDeps {
  engine: MetaEngine;
  auth: Authenticator;
  metrics: ServerMetrics;
  log: Logger;
  ttlSeconds: number;
  heartbeatMs: number;
  handshakeTimeoutMs: number;
  /** Volume settings as handed to a mount (bucket credentials filled in unless ambient). */
  mountSettings(volume: VolumeSettings): VolumeSettings;
  /** Where mutations are published, and watching sessions hear the others' (coherent caching). */
  changes: ChangeHub;
}

/** Turn any error into what goes on the wire: errno name + message without the "CODE: " prefix. */
export function toWireError(e: unknown): WireError {
  if (isFsError(e)) {
    const prefix = `${e.code}: `;
    const message = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message === e.code ? undefined : e.message;
    return { code: e.code, message };
  }
  return { code: 'EIO', message: e instanceof Error ? e.message : String(e) };
}

/** The longest delay setTimeout takes (a platform limit, not a default). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Thrown for a request on a session that has just been closed: it gets no answer. */
class SessionEnded extends Error {}

/**
 * One mount session's WebSocket: handshake (version, token, volume, resume), then multiplexed
 * requests dispatched to the volume's MetaStore. The session id in every call's context is the
 * authenticated one; whatever the client put there is overwritten. A bad frame closes this socket
 * only; an unknown op or bad arguments get an error reply and the session goes on.
 */
export class RpcSession implements ChangeSubscriber {
  private state: 'hello' | 'serving' | 'closed' = 'hello';
  private sessionId = '';
  private tokenSecret = '';
  private volume: VolumeSettings | null = null;
  private store: MetaStore | null = null;
  private readonly helloTimer: NodeJS.Timeout;
  /** The handshake in progress; requests that arrive meanwhile wait for it. */
  private pending: Promise<void> = Promise.resolve();
  /** Token and session were last found valid until then, at auth epoch checkedEpoch (see ensureValid). */
  private validUntil = 0;
  private checkedEpoch = -1;
  /** When the handshake finished (0 before): the sweep ignores sessions newer than its snapshot. */
  private servingSinceMs = 0;
  private validating: Promise<void> | undefined;
  /** The token's scope (read-only, subtree, squash), null when it has none. */
  private scope: SessionScope | null = null;
  /** Changes frames of a scoped session, sent one after the other once filtered. */
  private scopedChanges: Promise<void> = Promise.resolve();
  /** Closes the session when its token expires. */
  private expiryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly ws: WebSocket, private readonly deps: SessionDeps, private readonly remote: string) {
    this.helloTimer = setTimeout(() => this.close(CloseCode.policy, 'no hello within the handshake timeout'), deps.handshakeTimeoutMs);
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', () => this.onClose());
    ws.on('error', (err) => {
      // ws reports oversized frames here and then closes with 1009
      deps.metrics.errors.inc({ kind: /max payload/i.test(err.message) ? 'oversized' : 'socket' });
      deps.log.warn({ remote, err: err.message }, 'rpc socket error');
    });
  }

  get id(): string { return this.sessionId; }
  get volumeId(): string { return this.volume?.id ?? ''; }
  /** The token this session was opened with; only for the server's periodic re-check. */
  get token(): string { return this.tokenSecret; }
  /** Handshake done and not closed: what the sweep checks. */
  get servingSince(): number { return this.store && this.state === 'serving' ? this.servingSinceMs : 0; }

  /** The sweep found token and session valid at `epoch`: calls need not re-check for that epoch. */
  markValid(epoch: number): void {
    if (epoch === this.deps.auth.epoch) this.checkedEpoch = epoch;
  }

  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.helloTimer);
    clearTimeout(this.expiryTimer);
    this.deps.changes.remove(this);
    try { this.ws.close(code, reason.slice(0, 120)); } catch { this.ws.terminate(); }
  }

  private onClose(): void {
    clearTimeout(this.helloTimer);
    clearTimeout(this.expiryTimer);
    this.deps.changes.remove(this);
    if (this.state === 'serving') this.deps.metrics.sessions.dec();
    this.state = 'closed';
    // The session itself lives on until its TTL so a reconnecting client can resume it.
  }

  sendChanges(frame: ChangesFrame): void {
    if (this.state !== 'serving') return;
    if (!this.scope) return this.send(frame);
    // a scoped session's frames are filtered (one read for their directories), in order
    const scope = this.scope;
    this.scopedChanges = this.scopedChanges.then(() => scope.changes(frame))
      .then((f) => { if (this.state === 'serving') this.send(f); })
      // unsure what it may hear: it drops everything instead of missing a change
      .catch(() => { if (this.state === 'serving') this.send({ t: 'changes', all: true }); });
  }

  private send(frame: unknown): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(packFrame(frame));
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.state === 'closed') return;
    if (!isBinary) {
      this.deps.metrics.errors.inc({ kind: 'malformed' });
      return this.close(CloseCode.unsupportedData, 'text frames are not supported; send msgpack binary frames');
    }
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    let value: unknown;
    try {
      value = unpackFrame(buf);
    } catch {
      this.deps.metrics.errors.inc({ kind: 'malformed' });
      return this.close(CloseCode.malformed, 'malformed frame: not a msgpack value');
    }
    if (this.state === 'hello') {
      this.state = 'serving'; // further frames wait for the handshake through the queue below
      this.pending = this.handshake(value).catch((e) => {
        this.deps.log.error({ remote: this.remote, err: String(e) }, 'handshake failed');
        this.refuse('unavailable', 'server could not open the session');
      });
      return;
    }
    const req = parseRequest(value);
    if (typeof req === 'string') {
      this.deps.metrics.errors.inc({ kind: 'malformed' });
      return this.close(CloseCode.malformed, `malformed frame: ${req}`);
    }
    // Requests that arrive while the handshake is still running wait for it.
    void this.pending.then(() => { if (this.store) return this.dispatch(req.id, req.op, req.args); });
  }

  private refuse(reason: RefusedReason, message: string): void {
    const frame: Refused = { t: 'refused', v: PROTOCOL_VERSION, reason, message };
    this.send(frame);
    const code = reason === 'version' ? CloseCode.version : reason === 'auth' || reason === 'volume' ? CloseCode.auth
      : reason === 'bad-hello' ? CloseCode.badHello : CloseCode.shutdown;
    this.deps.metrics.errors.inc({ kind: reason === 'version' ? 'version' : reason === 'bad-hello' ? 'malformed' : 'auth' });
    this.close(code, message);
  }

  private async handshake(value: unknown): Promise<void> {
    clearTimeout(this.helloTimer);
    const hello = parseHello(value);
    if (typeof hello === 'string') return this.refuse('bad-hello', hello);
    if (hello.v !== PROTOCOL_VERSION) {
      return this.refuse('version', `protocol version mismatch: client speaks ${hello.v}, server speaks ${PROTOCOL_VERSION}`);
    }
    const { engine, auth, ttlSeconds } = this.deps;
    const epoch = auth.epoch;
    const verdict = await auth.verdict(hello.token);
    if ('refused' in verdict) {
      return this.refuse('auth', verdict.refused === 'expired'
        ? `token expired at ${new Date(verdict.expiresAt!).toISOString()}: ask the operator for a new one (meta.flexfs token create)`
        : 'invalid or revoked token');
    }
    const token = verdict.token;
    const wanted = hello.volume ?? token.volumeId;
    if (!wanted) return this.refuse('volume', 'token is not bound to a volume; name one');
    const volume = await engine.getVolume(wanted);
    if (!volume) return this.refuse('volume', `volume "${wanted}" does not exist`);
    if (!token.admin && token.volumeId !== volume.id) return this.refuse('auth', `token is not valid for volume "${wanted}"`);
    let store: MetaStore;
    if (hello.atTime !== undefined) {
      try { store = await openVolumeAt(engine, volume, hello.atTime); } catch (e) {
        if (isFsError(e) && e.code === 'EINVAL') return this.refuse('volume', e.message);
        throw e;
      }
    } else {
      store = engine.volume(volume.id);
    }

    let scope: SessionScope | null;
    try {
      scope = SessionScope.of(token, hasRecordAccess(engine)
        ? (inos, dir) => engine.transactRecords(volume.id, async (tx) => Promise.all(inos.map((i) => isWithin(tx, i, dir))), true)
        : null);
    } catch (e) {
      return this.refuse('unavailable', `token scope: ${(e as Error).message}`);
    }

    let resumed = false;
    if (hello.resume) {
      const known = (await engine.listSessions(volume.id)).some((s) => s.id === hello.resume);
      if (known && await engine.heartbeat(hello.resume, ttlSeconds)) { this.sessionId = hello.resume; resumed = true; }
    }
    if (!resumed) {
      this.sessionId = await engine.openSession(volume.id, { host: hello.host, pid: hello.pid, mountpoint: hello.mountpoint }, ttlSeconds);
    }
    if (this.ws.readyState !== this.ws.OPEN) return; // client went away meanwhile; the session expires
    this.tokenSecret = hello.token;
    this.validUntil = Date.now() + this.deps.heartbeatMs;
    this.checkedEpoch = epoch;
    this.servingSinceMs = Date.now();
    this.volume = volume;
    this.scope = scope;
    this.armExpiry(token);
    this.store = store;
    this.deps.metrics.sessions.inc();
    // Nothing changes in the past: an atTime session hears no changes.
    if (hello.watch && hello.atTime === undefined) this.deps.changes.add(this);
    const welcome: Welcome = {
      t: 'welcome', v: PROTOCOL_VERSION, sessionId: this.sessionId, resumed,
      settings: this.deps.mountSettings(volume), heartbeatMs: this.deps.heartbeatMs, ttlSeconds,
      serverVersion: SERVER_VERSION,
    };
    if (scope?.readOnly) welcome.readOnly = true;
    if (scope?.subdir) welcome.subdir = scope.subdir;
    if (hello.atTime !== undefined) welcome.atTime = hello.atTime;
    this.send(welcome);
    this.deps.log.info({ remote: this.remote, session: this.sessionId, volume: volume.name, resumed, host: hello.host,
      ...(hello.atTime !== undefined ? { atTime: new Date(hello.atTime).toISOString() } : {}) }, 'session open');
  }

  private async dispatch(id: number, op: string, args: unknown[]): Promise<void> {
    const { metrics } = this.deps;
    const known = Object.hasOwn(META_OPS, op) || SESSION_OPS.has(op);
    const end = metrics.latency.startTimer({ op: known ? op : 'unknown' });
    try {
      const result = await this.call(op, args);
      if (this.state === 'closed') return;
      this.send({ id, ok: result === undefined ? null : result });
      metrics.requests.inc({ op: known ? op : 'unknown', result: 'ok' });
    } catch (e) {
      if (e instanceof SessionEnded) return;
      const err = toWireError(e);
      if (!isFsError(e)) {
        metrics.errors.inc({ kind: 'engine' });
        this.deps.log.error({ session: this.sessionId, op, err: err.message }, 'request failed');
      } else if (err.code === 'ENOSYS' || err.code === 'EINVAL') {
        metrics.errors.inc({ kind: 'request' });
      }
      metrics.requests.inc({ op: known ? op : 'unknown', result: err.code });
      this.send({ id, err });
    } finally {
      const seconds = end();
      if (this.deps.log.isLevelEnabled('debug')) this.deps.log.debug({ session: this.sessionId, op, ms: seconds * 1000 }, 'rpc');
    }
  }

  private async call(op: string, args: unknown[]): Promise<unknown> {
    const store = this.store!;
    const spec = Object.hasOwn(META_OPS, op) ? META_OPS[op] : undefined;
    if (spec) {
      await this.ensureValid();
      const ci = validateArgs(op, spec, args);
      (args[ci] as { sessionId?: string }).sessionId = this.sessionId;
      if (this.scope) await this.scope.request(op, spec, args, ci);
      const fn = (store as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[op];
      const raw = await fn.apply(store, args);
      const result = this.scope ? this.scope.reply(raw) : raw;
      // Done: the volume's other watching sessions drop what this made stale.
      const changed = spec.mutating ? changesOf(op, args) : undefined;
      if (changed) this.deps.changes.publish(this.volume!.id, this.sessionId, changed);
      return result;
    }
    switch (op) {
      case 'heartbeat': return this.heartbeat();
      case 'settings':
        // carries the bucket keys: only for a session whose token and lease hold right now (a
        // fresh check, not the one of up to a heartbeat interval ago; settings is called rarely)
        await this.ensureValid(true);
        return this.deps.mountSettings(this.volume!);
      case 'bye':
        await this.deps.engine.closeSession(this.sessionId);
        setImmediate(() => this.close(CloseCode.normal, 'bye'));
        return true;
      default:
        throw new FsError('ENOSYS', `unknown op "${op}"`);
    }
  }

  /**
   * The server, not the client's good manners, decides whether a session may still be served:
   * at most one heartbeat interval after the last check (or at once when this server revoked a
   * token or expired sessions since: the auth epoch moved), the token is checked again and the
   * session extended (a request is a sign of life); `fresh` checks now whatever the last check
   * found (settings, which carries the bucket keys). A revoked token closes the socket (the client
   * fails with EACCES); an expired session closes it unanswered, so the client re-sends the call
   * on a new session after taking its holds again.
   */
  private async ensureValid(fresh = false): Promise<void> {
    if (this.state === 'closed') throw new SessionEnded();
    if (!fresh && Date.now() < this.validUntil && this.checkedEpoch === this.deps.auth.epoch) return;
    this.validating ??= (async () => {
      const epoch = this.deps.auth.epoch;
      try {
        const verdict = await this.deps.auth.verdict(this.tokenSecret);
        if ('refused' in verdict) {
          this.close(CloseCode.auth, verdict.refused === 'expired' ? 'token expired' : 'token revoked');
          throw new SessionEnded();
        }
        if (!(await this.deps.engine.heartbeat(this.sessionId, this.deps.ttlSeconds))) {
          this.close(CloseCode.sessionExpired, 'session expired');
          throw new SessionEnded();
        }
        this.validUntil = Date.now() + this.deps.heartbeatMs;
        this.checkedEpoch = epoch;
      } finally {
        this.validating = undefined;
      }
    })();
    return this.validating;
  }

  /**
   * A token with an expiry closes its session then (the client's reconnect is refused with
   * "token expired"); a timer longer than Node allows is re-armed on the way.
   */
  private armExpiry(token: TokenInfo): void {
    if (token.expiresAt === undefined) return;
    const wait = token.expiresAt - Date.now();
    this.expiryTimer = setTimeout(() => {
      if (Date.now() < token.expiresAt!) return this.armExpiry(token);
      this.deps.log.info({ session: this.sessionId }, 'closing session: token expired');
      this.close(CloseCode.auth, 'token expired');
    }, Math.max(0, Math.min(wait, MAX_TIMER_MS)));
    this.expiryTimer.unref();
  }

  /** Keep the session alive; a revoked token ends it. Returns false when the session expired. */
  private async heartbeat(): Promise<{ alive: boolean }> {
    const verdict = await this.deps.auth.verdict(this.tokenSecret);
    if ('refused' in verdict) {
      const why = verdict.refused === 'expired' ? 'token expired' : 'token revoked';
      setImmediate(() => this.close(CloseCode.auth, why));
      throw new FsError('EACCES', why);
    }
    const alive = await this.deps.engine.heartbeat(this.sessionId, this.deps.ttlSeconds);
    if (!alive) setImmediate(() => this.close(CloseCode.sessionExpired, 'session expired'));
    return { alive };
  }
}
