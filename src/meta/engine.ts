import type { StoredVolume } from './core/admin.js';
import type { MetaTx } from './core/tx.js';
import type { Changes, MetaStore, VolumeSettings } from './types.js';
import type { TokenScope } from './token-scope.js';

/**
 * MetaEngine: everything a metadata server (or an embedded mount) keeps, across volumes.
 * `sqlite` and `redis` implement it; meta.flexfs serves it; the admin CLI drives it.
 * Per-volume namespace operations go through `volume(id)`, a MetaStore.
 */
export interface MetaEngine {
  readonly kind: 'sqlite' | 'redis';

  // --- volumes
  createVolume(spec: VolumeSpec): Promise<VolumeSettings>;
  listVolumes(): Promise<VolumeSettings[]>;
  /** By name or id; null when missing. */
  getVolume(nameOrId: string): Promise<VolumeSettings | null>;
  /** Settings and limits by name or id; null when missing. */
  volumeDetails(nameOrId: string): Promise<VolumeDetails | null>;
  /**
   * Change the settings that can change on a volume with data (capacity, inode limit, retention,
   * proxies, SSE); refuses the others (EINVAL naming them). Returns the volume as it is now.
   */
  updateVolume(nameOrId: string, update: VolumeUpdate): Promise<VolumeDetails>;
  /** Refuses (ENOTEMPTY) a volume that still has files unless `force`. */
  deleteVolume(nameOrId: string, force?: boolean): Promise<void>;
  /**
   * The namespace of one volume. Cheap: may be called per session. With `atMs`: the volume as it
   * was then, read-only (src/meta/history; the caller checks `atMs` is inside the history window).
   */
  volume(volumeId: string, atMs?: number): MetaStore;

  // --- metadata history (docs/METADATA.md "History")
  /**
   * The earliest instant the volume's history can show (ms): when recording started, raised by
   * every prune; null when it has recorded nothing yet.
   */
  historyStart(volumeId: string): Promise<number | null>;
  /**
   * Drop history records at or before `upToMs` (gc, past the retention window) and raise the
   * history start to it; returns how many records went.
   */
  pruneHistory(volumeId: string, upToMs: number): Promise<number>;

  // --- tokens (secrets are stored hashed; the plaintext is returned once, at creation)
  createToken(spec: TokenSpec): Promise<{ id: string; secret: string }>;
  listTokens(): Promise<TokenInfo[]>;
  revokeToken(id: string): Promise<void>;
  /**
   * The token a secret belongs to, or null when unknown, revoked or expired (`includeExpired`:
   * an expired one is returned, so the server can say why it refuses).
   */
  checkToken(secret: string, opts?: { includeExpired?: boolean }): Promise<TokenInfo | null>;

  // --- mount sessions (holds on open files belong to a session)
  openSession(volumeId: string, info: { host: string; pid: number; mountpoint?: string }, ttlSeconds: number): Promise<string>;
  heartbeat(sessionId: string, ttlSeconds: number): Promise<boolean>;
  closeSession(sessionId: string): Promise<void>;
  /** Expire sessions past their deadline and release their holds; returns how many expired. */
  expireSessions(now?: number): Promise<number>;
  listSessions(volumeId?: string): Promise<SessionInfo[]>;

  // --- garbage collection and consistency
  /**
   * Block objects no longer referenced, queued at `queuedAt` (ms). `olderThanMs` is a cut-off TIME
   * (ms since the epoch, e.g. `Date.now() - retentionSeconds * 1000`): entries queued at or before it,
   * oldest first.
   */
  gcQueue(volumeId: string, olderThanMs: number, limit: number): Promise<GcEntry[]>;
  /** Remove entries from the queue once their objects are deleted. */
  gcDone(volumeId: string, entries: GcEntry[]): Promise<void>;
  /** Every block id the volume's metadata references (inodes' block maps + queued), for fsck/orphan scans. */
  referencedBlocks(volumeId: string): AsyncIterable<{ ino: number; index: number; blockId: number; length: number }>;
  /** Namespace checks (dangling entries, wrong nlink, orphan inodes); returns problems found. */
  checkNamespace(volumeId: string): Promise<string[]>;

  /**
   * Optional: where the servers sharing this engine tell each other what their sessions changed
   * (coherent caching across meta.flexfs servers; redis pub/sub): a new bus per server, which
   * closes it (or the engine's close does). An engine one server owns (sqlite) has none.
   */
  changeBus?(): ChangeBus;

  close(): Promise<void>;
}

/**
 * Raw access to one volume's records for `meta.flexfs dump` / `load` (src/ops/dump.ts, load.ts):
 * no namespace rules apply, so nothing but those two (and meta.flexfs's read-only scope checks, see
 * transactRecords) uses it. The in-process engines (sqlite,
 * redis) implement it; the sqlite worker client does not (a callback cannot cross the thread).
 */
export interface VolumeRecordAccess {
  /** The volume's stored record (settings, limits, creation time) by name or id; null when missing. */
  storedVolume(nameOrId: string): Promise<StoredVolume | null>;
  /**
   * Create a volume from a dumped record, KEEPING its id (block object keys contain it), with a
   * fresh root and counters; EEXIST when its name or its id is already taken.
   */
  restoreVolume(v: StoredVolume): Promise<VolumeSettings>;
  /**
   * Run fn atomically over the volume's records (see core/tx.ts); readOnly for reads. Also the
   * server's scope checks (server/session-scope.ts: is an inode inside a token's subtree).
   */
  transactRecords<T>(volumeId: string, fn: (tx: MetaTx) => Promise<T>, readOnly?: boolean): Promise<T>;
  /** Every queued gc entry, whatever its age, read in pages. */
  gcEntries(volumeId: string): AsyncIterable<GcEntry>;
}

export function hasRecordAccess(engine: MetaEngine): engine is MetaEngine & VolumeRecordAccess {
  return typeof (engine as Partial<VolumeRecordAccess>).transactRecords === 'function';
}

/** What one server's session changed, as the other servers of the same engine hear it. */
export type BusListener = (volumeId: string, origin: string, changes: Partial<Changes>) => void;

export interface ChangeBus {
  /** Tell the other servers that session `origin` changed these in `volumeId` (fire and forget). */
  publish(volumeId: string, origin: string, changes: Partial<Changes>): void;
  /**
   * Hear what the other servers publish (never this server's own). `lost` runs when messages may
   * have been lost (the bus connection dropped and came back): every watcher must be told.
   */
  subscribe(listener: BusListener, lost: () => void): Promise<void>;
  close(): Promise<void>;
}

export interface VolumeSpec {
  name: string;
  blockSize?: number;                 // default 4 MiB; 256 KiB … 8 MiB, power of two
  compression?: 'lz4' | 'none';
  encryption?: VolumeSettings['encryption'];
  blockStore: VolumeSettings['blockStore'];
  retentionSeconds?: number;          // default 86400
  proxies?: string[];
  /** Bytes the files may hold in all (sum of sizes, as statfs counts them); writes past it get ENOSPC. 0 = unlimited. */
  capacityBytes?: number;
  /** Inodes the volume may hold, the root included; creating past it gets ENOSPC. 0 = unlimited. */
  inodeLimit?: number;
}

/** A volume's settings with its limits (0 = unlimited). */
export interface VolumeDetails {
  settings: VolumeSettings;
  capacityBytes: number;
  inodeLimit: number;
}

/**
 * One volume as the admin API reports it (`GET /v1/volumes/:v?details=1`, `PATCH /v1/volumes/:v`):
 * its settings without bucket secrets, its limits (0 = unlimited) and its usage now.
 */
export type VolumeReport = VolumeSettings & {
  capacityBytes: number;
  inodeLimit: number;
  usage: { usedBytes: number; inodes: number };
};

/** What `volume update` may change; an absent field stays as it is. */
export interface VolumeUpdate {
  capacityBytes?: number;
  inodeLimit?: number;
  retentionSeconds?: number;
  /** The proxy group; an empty list removes it. */
  proxies?: string[];
  /** Ask the bucket for server-side encryption on every PUT (blockStore.sse). */
  sse?: boolean;
}

/** A token as listed (never its secret), with its scope (token-scope.ts) when it has one. */
export interface TokenInfo extends TokenScope {
  id: string;
  volumeId?: string;
  admin: boolean;
  label?: string;
  createdAt: number;
  revoked: boolean;
}

/** What `token create` asks for; the engines check the scope with checkTokenScope. */
export interface TokenSpec extends TokenScope {
  volume?: string;
  admin?: boolean;
  label?: string;
}

export interface SessionInfo {
  id: string;
  volumeId: string;
  host: string;
  pid: number;
  mountpoint?: string;
  startedAt: number;
  expiresAt: number;
}

export interface GcEntry {
  blockId: number;
  ino: number;
  index: number;
  queuedAt: number;
}
