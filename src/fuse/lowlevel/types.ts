/**
 * Typed requests and replies of flexfs's low-level FUSE layer (inode-based, libfuse3's low-level
 * protocol). A handler gets one request object and returns its reply (or a promise of it); throwing
 * (or rejecting) answers with an errno through src/errors' toErrno (FsError keeps its code, anything
 * else is EIO). An op without a handler is left to libfuse (ENOSYS for most; docs/FUSE.md).
 */

/** Who made the request (struct fuse_ctx). `groups` only for the ops in `callerGroupsOps`. */
export interface Caller {
  uid: number;
  gid: number;
  pid: number;
  /** Supplementary groups from /proc/<pid>/status (fuse_req_getgroups); ops in callerGroupsOps only. */
  groups?: number[];
}

interface Base extends Caller {
  /** Request handle: the session replies with it; never reused. */
  id: number;
  /** The inode the request is about (the parent directory for name ops). */
  ino: number;
}
interface WithFh { fh: number; flags: number }

export interface LookupRequest extends Base { name: string }
export interface ForgetRequest { ino: number; nlookup: number }
export interface BatchForgetRequest { forgets: ForgetRequest[] }
export interface GetattrRequest extends Base { fh?: number }
/** Only the fields being set are present; atime/mtime 'now' is UTIME_NOW, absent is UTIME_OMIT. */
export interface SetattrRequest extends Base {
  fh?: number;
  /** Raw FUSE_SET_ATTR_* mask (for KILL_SUID/SGID and the like). */
  toSet: number;
  mode?: number;
  newUid?: number;
  newGid?: number;
  size?: number;
  atime?: bigint | 'now';
  mtime?: bigint | 'now';
  ctime?: bigint;
}
export interface ReadlinkRequest extends Base {}
export interface MknodRequest extends Base { name: string; mode: number; rdev: number; umask: number }
export interface MkdirRequest extends Base { name: string; mode: number; umask: number }
export interface UnlinkRequest extends Base { name: string }
export interface RmdirRequest extends Base { name: string }
export interface SymlinkRequest extends Base { name: string; target: string }
/** flags: RENAME_NOREPLACE (1), RENAME_EXCHANGE (2). */
export interface RenameRequest extends Base { name: string; newParent: number; newName: string; flags: number }
export interface LinkRequest extends Base { newParent: number; name: string }
export interface OpenRequest extends Base, WithFh {}
export interface CreateRequest extends Base, WithFh { name: string; mode: number; umask: number }
export interface ReadRequest extends Base, WithFh { size: number; offset: number }
/** data is the request's own copy of the payload (the one copy off libfuse's buffer): keep it if needed. */
export interface WriteRequest extends Base, WithFh { data: Buffer; offset: number; writepage: boolean }
export interface FlushRequest extends Base, WithFh { lockOwner: number }
export interface ReleaseRequest extends Base, WithFh { lockOwner: number; flockRelease: boolean }
export interface FsyncRequest extends Base, WithFh { datasync: boolean }
export interface OpendirRequest extends Base, WithFh {}
/** Answer with a DirBuffer of at most `size` bytes, entries after cookie `offset`. */
export interface ReaddirRequest extends Base, WithFh { size: number; offset: number }
export interface ReleasedirRequest extends Base, WithFh {}
export interface FsyncdirRequest extends Base, WithFh { datasync: boolean }
export interface StatfsRequest extends Base {}
export interface SetxattrRequest extends Base { name: string; value: Buffer; flags: number }
/** The session answers size probes (size 0) and ERANGE itself from the returned value. */
export interface GetxattrRequest extends Base { name: string; size: number }
export interface ListxattrRequest extends Base { size: number }
export interface RemovexattrRequest extends Base { name: string }
export interface AccessRequest extends Base { mask: number }
export interface FallocateRequest extends Base, WithFh { mode: number; offset: number; length: number }
/** whence: SEEK_DATA (3) or SEEK_HOLE (4) (the kernel answers the others itself). */
export interface LseekRequest extends Base, WithFh { offset: number; whence: number }
export interface FlockLock { type: number; whence: number; start: number; len: number; pid: number }
export interface GetlkRequest extends Base, WithFh { lock: FlockLock; lockOwner: number }
export interface SetlkRequest extends Base, WithFh { lock: FlockLock; lockOwner: number; sleep: boolean }
export interface FlockRequest extends Base, WithFh { operation: number; lockOwner: number }

/** Inode attributes in a reply. Times are nanoseconds since the epoch. */
export interface FuseAttr {
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev?: number;
  size: number;
  /** 512-byte blocks; default: those covering size. */
  blocks?: number;
  blksize?: number;
  atime: bigint;
  mtime: bigint;
  ctime: bigint;
}

/** lookup/mknod/mkdir/symlink/link reply. ino 0 = negative entry (cached for entryTimeout). */
export interface Entry {
  ino: number;
  generation?: number;
  attr: FuseAttr;
  /** Seconds the kernel may cache the attributes / the name (default: the session's). */
  attrTimeout?: number;
  entryTimeout?: number;
}

export interface AttrReply { attr: FuseAttr; timeout?: number }

export interface OpenReply {
  fh: number;
  keepCache?: boolean;
  directIo?: boolean;
  nonSeekable?: boolean;
  /** opendir only: let the kernel cache readdir results. */
  cacheReaddir?: boolean;
  noFlush?: boolean;
}

export type CreateReply = Entry & OpenReply;

export interface StatfsReply {
  bsize: number;
  frsize?: number;
  blocks: number;
  bfree: number;
  bavail?: number;
  files: number;
  ffree: number;
  favail?: number;
  namemax?: number;
}

type R<T> = T | Promise<T>;

/** Forward declaration; see dirbuf.ts. */
export interface DirReply { bytes(): Uint8Array }

export interface LowLevelHandlers {
  lookup?(req: LookupRequest): R<Entry>;
  /** No reply: the kernel drops `nlookup` references to `ino` (batch forgets arrive one by one). */
  forget?(req: ForgetRequest): void;
  getattr?(req: GetattrRequest): R<AttrReply>;
  setattr?(req: SetattrRequest): R<AttrReply>;
  readlink?(req: ReadlinkRequest): R<string>;
  mknod?(req: MknodRequest): R<Entry>;
  mkdir?(req: MkdirRequest): R<Entry>;
  unlink?(req: UnlinkRequest): R<void>;
  rmdir?(req: RmdirRequest): R<void>;
  symlink?(req: SymlinkRequest): R<Entry>;
  rename?(req: RenameRequest): R<void>;
  link?(req: LinkRequest): R<Entry>;
  open?(req: OpenRequest): R<OpenReply>;
  create?(req: CreateRequest): R<CreateReply>;
  /** Return the bytes (at most req.size); they are sent before the promise's value is dropped. */
  read?(req: ReadRequest): R<Uint8Array>;
  /** Return the count written. */
  write?(req: WriteRequest): R<number>;
  flush?(req: FlushRequest): R<void>;
  release?(req: ReleaseRequest): R<void>;
  fsync?(req: FsyncRequest): R<void>;
  opendir?(req: OpendirRequest): R<OpenReply>;
  readdir?(req: ReaddirRequest): R<DirReply>;
  /** Every entry with an ino other than 0 in the reply counts as one lookup (nlookup + 1). */
  readdirplus?(req: ReaddirRequest): R<DirReply>;
  releasedir?(req: ReleasedirRequest): R<void>;
  fsyncdir?(req: FsyncdirRequest): R<void>;
  statfs?(req: StatfsRequest): R<StatfsReply>;
  setxattr?(req: SetxattrRequest): R<void>;
  getxattr?(req: GetxattrRequest): R<Uint8Array>;
  listxattr?(req: ListxattrRequest): R<string[]>;
  removexattr?(req: RemovexattrRequest): R<void>;
  access?(req: AccessRequest): R<void>;
  fallocate?(req: FallocateRequest): R<void>;
  /** Return the new offset. */
  lseek?(req: LseekRequest): R<number>;
  getlk?(req: GetlkRequest): R<FlockLock>;
  setlk?(req: SetlkRequest): R<void>;
  flock?(req: FlockRequest): R<void>;
}

export type OpName = keyof LowLevelHandlers;
