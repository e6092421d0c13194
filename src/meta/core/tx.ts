import type { BlockRef, InodeType } from '../types.js';

/**
 * The small transaction interface every engine implements; core/store.ts runs every MetaStore
 * operation against it. Engines only make a whole `transact(fn)` atomic:
 * - sqlite: fn runs inside one BEGIN IMMEDIATE … COMMIT; reads and writes hit the db directly.
 * - redis: fn runs optimistically; every read is recorded with what it saw, writes are buffered,
 *   then ONE generic Lua script checks that nothing read has changed and applies all writes,
 *   or reports a conflict and the engine runs fn again.
 * So fn must be a pure function of what it reads (it may run more than once) and must not
 * perform side effects outside `tx`.
 *
 * Reads return what earlier writes of the same transaction wrote (engines keep an overlay).
 */
export interface InodeRec {
  ino: number;
  type: InodeType;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  size: number;
  rdev: number;
  atime: bigint;
  mtime: bigint;
  ctime: bigint;
  btime: bigint;
  generation: number;
  /**
   * The parent directory (root: itself). Directories: needed for ".." and rename loop checks.
   * Other inodes: the directory of one of their names (core/ancestry.ts; the other names of a
   * hard-linked inode are in its link-parents record); after the last name is gone, the directory
   * it had. Absent on files made before parents were kept (unknown: ancestry.ts answers "not within").
   */
  parent?: number;
  /** Symlinks: the target. */
  target?: string;
}

/**
 * The directories of a hard-linked inode's names besides `InodeRec.parent`, each with how many
 * of its names are in that directory (two links in one directory: count 2). Sorted by dir.
 */
export type LinkParents = [dir: number, count: number][];

export type CounterName = 'usedBytes' | 'inodes';

export interface IdCounters {
  nextIno: number;
  nextBlock: number;
}

export interface MetaTx {
  getInode(ino: number): Promise<InodeRec | null>;
  /** Several inodes at once (readdir); missing ones are null. */
  getInodes(inos: number[]): Promise<(InodeRec | null)[]>;
  putInode(rec: InodeRec): void;
  /** Removes the inode and everything hanging off it (xattrs, block slots, holds, locks, link parents, dir entries). */
  delInode(ino: number): void;

  getEntry(parent: number, name: string): Promise<number | null>;
  putEntry(parent: number, name: string, ino: number): void;
  delEntry(parent: number, name: string): void;
  /** True when the directory has no entries. */
  dirEmpty(dir: number): Promise<boolean>;
  /** Entries with name > after (byte order), sorted, at most limit. Read-only operations only. */
  listEntries(dir: number, after: string | undefined, limit: number): Promise<{ name: string; ino: number }[]>;

  getXattr(ino: number, name: string): Promise<Buffer | null>;
  setXattr(ino: number, name: string, value: Buffer): void;
  delXattr(ino: number, name: string): void;
  listXattrs(ino: number): Promise<string[]>;

  /** Every slot of the inode's block map, sorted by index. */
  getSlots(ino: number): Promise<BlockRef[]>;
  /** Slots with index in [from, from+count), sorted. */
  getSlotRange(ino: number, from: number, count: number): Promise<BlockRef[]>;
  putSlot(ino: number, ref: BlockRef): void;
  delSlot(ino: number, index: number): void;

  /** Total holds on the inode over all sessions. */
  holdCount(ino: number): Promise<number>;
  sessionHolds(ino: number, session: string): Promise<number>;
  /** Change one session's hold count on ino (a count reaching 0 removes the hold). */
  addHold(ino: number, session: string, delta: number): void;

  /**
   * The inode's lock set as stored (meta/locks/table.ts encodes it), or null: no locks. Key 0
   * (no inode has it) holds the volume's wait graph of blocked F_SETLKW owners.
   */
  getLocks(key: number): Promise<string | null>;
  /** Store (null: remove) the lock record under `key`. */
  putLocks(key: number, value: string | null): void;

  /** The inode's link-parents record (core/ancestry.ts), or null: none (nlink ≤ 1). */
  getLinkParents(ino: number): Promise<LinkParents | null>;
  /** Store (null or empty: remove) the inode's link-parents record. */
  putLinkParents(ino: number, parents: LinkParents | null): void;

  /** A fresh inode number (never reused; gaps are fine). */
  allocIno(): Promise<number>;
  /** Reserve count block ids; returns the first. Never reused. */
  allocBlockIds(count: number): Promise<number>;
  addCounter(name: CounterName, delta: number): void;
  getCounter(name: CounterName): Promise<number>;

  /** Dump/load only (ops/dump.ts): the next inode number and block id the volume hands out. */
  getIdCounters(): Promise<IdCounters>;
  /** Load only: set both id counters (never below what stored inodes and blocks use). */
  setIdCounters(c: IdCounters): void;

  /** Queue a block object that no inode references any more. */
  gcPush(ino: number, index: number, blockId: number, queuedAt: number): void;

  /** Recorded result of an operation id, or null. */
  getOp(opId: string): Promise<string | null>;
  putOp(opId: string, result: string, ttlMs: number): void;
}

/** Per-volume facts the core needs besides the namespace. */
export interface VolumeInfo {
  settings: import('../types.js').VolumeSettings;
  /** 0 = unlimited. */
  capacityBytes: number;
  /** 0 = unlimited. */
  inodeLimit: number;
}

/** What an engine gives the core for one volume. */
export interface TxRunner {
  /** Run fn atomically (see above). `readOnly` lets an engine skip locking/validation. */
  transact<T>(fn: (tx: MetaTx) => Promise<T>, readOnly?: boolean): Promise<T>;
  /** The volume's settings and limits (cached by the caller until `infoVersion` changes). */
  info(): Promise<VolumeInfo>;
  /**
   * Changes when the volume's settings or limits may have changed (`volume update`): the caller
   * reads `info` again then. Absent: they never change under this runner.
   */
  infoVersion?(): string | number;
}
