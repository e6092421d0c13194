import { hostname } from 'node:os';
import type { MetaStore, VolumeSettings } from '../types.js';
import { MetaConnectError, RpcClient, type RpcClientOptions } from './rpc-client.js';
import { RemoteMetaStore } from './remote-store.js';
import type { MetaTlsOptions } from './tls.js';

export { RemoteMetaStore } from './remote-store.js';
export { RpcClient, MetaConnectError } from './rpc-client.js';
export { AdminClient, AdminError } from './admin.js';
export { parseMetaAddr } from './address.js';
export { resolveTls, normalizeFingerprint, type MetaTlsOptions } from './tls.js';

export interface ConnectMetaOptions {
  /** `host:port`, `https://host:port`, or `http://host:port` for a --noSSL server. */
  addr: string;
  /** Volume token (or an admin token together with `volume`). */
  token: string;
  /** Trust for the server's certificate: pinned cert (PEM or path), fingerprint, or insecure. */
  tls?: MetaTlsOptions;
  /** Volume name or id; defaults to the token's volume. */
  volume?: string;
  mountpoint?: string;
  /** Deadline per call, reconnects included (default 60 s), after which the call fails with EIO. */
  callTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Ask the server for what other sessions change (a mount's caches: store.watch). */
  watch?: boolean;
  /** See the volume as it was at this time (ms since the epoch), read-only; refused outside its history window. */
  atTime?: number;
  /** The connection dropped or came back (see RpcClientOptions.onConnection). */
  onConnection?: RpcClientOptions['onConnection'];
}

export interface MetaSession {
  store: MetaStore;
  /** The volume's settings, bucket credentials filled in unless the volume uses ambient credentials. */
  settings: VolumeSettings;
  /** Current session id (changes only if the server expired the session during an outage). */
  readonly sessionId: string;
  /** The server enforces a read-only token: the mount mounts read-only. */
  readOnly: boolean;
  /** The token's subtree (display path): what this mount shows as its root. */
  subdir?: string;
  close(): Promise<void>;
}

/**
 * Open a mount session on meta.flexfs. Rejects with a clear error when the server is unreachable,
 * the token is wrong or revoked, the volume is unknown, or the protocol versions differ.
 */
export async function connectMeta(opts: ConnectMetaOptions): Promise<MetaSession> {
  let store: RemoteMetaStore | null = null;
  const rpc = new RpcClient({
    addr: opts.addr, token: opts.token, tls: opts.tls, volume: opts.volume,
    host: hostname(), pid: process.pid, mountpoint: opts.mountpoint, atTime: opts.atTime,
    callTimeoutMs: opts.callTimeoutMs, connectTimeoutMs: opts.connectTimeoutMs,
    onNewSession: (request) => store ? store.restoreHolds(request) : Promise.resolve(),
    onChanges: opts.watch ? (changes) => store?.deliverChanges(changes) : undefined,
    onConnection: opts.onConnection,
  });
  const welcome = await rpc.start();
  if (opts.atTime !== undefined && welcome.atTime !== opts.atTime) {
    // An older server ignores atTime: it would serve today's volume as if it were the past.
    await rpc.close().catch(() => undefined);
    throw new MetaConnectError(`meta server ${opts.addr} (${welcome.serverVersion}) does not serve volumes as of a time (--atTime): upgrade it`, 'version');
  }
  store = new RemoteMetaStore(rpc);
  return {
    store,
    settings: welcome.settings,
    readOnly: welcome.readOnly === true,
    subdir: typeof welcome.subdir === 'string' ? welcome.subdir : undefined,
    get sessionId() { return rpc.sessionId; },
    close: () => rpc.close(),
  };
}
