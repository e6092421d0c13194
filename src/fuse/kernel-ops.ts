import type { Attr } from '../meta/types.js';
import { isFsError } from '../errors/index.js';
import { ROOT_INO } from '../meta/types.js';
import type { AttrChanges, InodeFs } from '../vfs/types.js';
import type { CacheTimeouts } from '../vfs/cache-timeouts.js';
import { DirBuffer } from './lowlevel/dirbuf.js';
import { LookupCounts } from './lookup-counts.js';
import { KernelCoherence } from './kernel-notify.js';
import { statfsToFuse, toFuseAttr } from './stat.js';
import type { Entry, LowLevelHandlers, ReaddirRequest, SetattrRequest } from './lowlevel/types.js';

const S_IFDIR = 0o040000;
/** Entry timeouts up to this many seconds are not tracked by KernelCoherence (the default is 1). */
const TRACK_NAMES_ABOVE_S = 1;
/** The attributes of a negative entry (the kernel ignores them). */
const NO_ATTR = { ino: 0, mode: 0, nlink: 0, uid: 0, gid: 0, size: 0, atime: 0n, mtime: 0n, ctime: 0n };

export interface KernelOpsOptions {
  /** Permission bits hidden from every reported mode (--umask). */
  umask?: number;
  /**
   * Seconds the kernel may cache attributes, names and absent names (0: it asks every time), read
   * at each reply: they shorten at once while the mount hears nothing of other mounts' changes.
   */
  timeouts: () => CacheTimeouts;
  /** The longest `timeouts` can be: what the kernel may hold for long, so what coherence tracks. */
  longest: CacheTimeouts;
  /**
   * The session negotiated the kernel's writeback cache: the kernel then does O_APPEND itself
   * (page writes carry their offsets, so the core must not append them: O_APPEND is taken off the
   * handle) and reads through write-only handles to fill partial pages (allowed as `fill`).
   */
  writebackCache?: boolean;
}

const O_APPEND = 0o2000;

/**
 * The low-level FUSE request table over the inode-level core: each request is one core call,
 * its answer converted to the reply's shape. Holds no filesystem rule; it only counts the
 * lookups the kernel holds (LookupCounts) and remembers each directory's parent for "..".
 */
export function makeKernelOps(core: InodeFs, o: KernelOpsOptions): { handlers: LowLevelHandlers; lookups: LookupCounts; coherence: KernelCoherence } {
  const lookups = new LookupCounts();
  // Names are remembered (for a reconnect to drop them) only when the kernel keeps them longer
  // than the default second: shorter ones expire by themselves, and every lookup stays cheap.
  const attrCaching = o.longest.attr > 0;
  const coherence = new KernelCoherence(lookups, attrCaching, o.longest.entry > TRACK_NAMES_ABOVE_S);
  const t = o.timeouts;
  const parents = new Map<number, number>([[ROOT_INO, ROOT_INO]]);
  const umask = o.umask ?? 0;
  const writeback = o.writebackCache ?? false;
  const openFlags = (flags: number) => (writeback ? flags & ~O_APPEND : flags);
  /** Attributes as the kernel gets them (what it may cache is noted for coherence). */
  const attr = (a: Attr) => { coherence.replied(a); return toFuseAttr(a, umask); };
  /** Entry reply fields for `a`. */
  const reply = (a: Attr): Entry => {
    const now = t();
    return { ino: a.ino, generation: a.generation, attr: attr(a), attrTimeout: now.attr, entryTimeout: now.entry };
  };
  const attrReply = (a: Attr) => ({ attr: attr(a), timeout: t().attr });
  /** The kernel now holds one more lookup of `a` (an entry reply it accepted), named `name` in `parent`. */
  const held = (a: Attr, parent: number, name: string): void => {
    lookups.add(a.ino);
    coherence.named(parent, name, a.ino);
    if (a.type === 'dir') parents.set(a.ino, parent);
  };
  const entry = (a: Attr, parent: number, name: string): Entry => {
    held(a, parent, name);
    return reply(a);
  };

  const list = async (req: ReaddirRequest, plus: boolean): Promise<DirBuffer> => {
    const entries = await core.readdir(req.fh, req.offset === 0, req);
    const out = new DirBuffer(req.size, plus);
    // Offsets: 0 "." → 1 ".." → 2 the first entry …; the kernel passes back the next one's.
    for (let i = req.offset; i < entries.length + 2; i++) {
      let ok: boolean;
      if (i < 2) {
        // "." and "..": names only (the kernel counts no lookup for them in readdirplus).
        const ino = i === 0 ? req.ino : parents.get(req.ino) ?? req.ino;
        ok = out.add(i === 0 ? '.' : '..', { ino: 0, attr: { ino, mode: S_IFDIR, nlink: 2, uid: 0, gid: 0, size: 0, atime: 0n, mtime: 0n, ctime: 0n } }, i + 1);
      } else {
        const e = entries[i - 2];
        ok = out.add(e.name, plus ? reply(e.attr) : { ino: e.attr.ino, attr: attr(e.attr) }, i + 1);
        if (ok && plus) held(e.attr, req.ino, e.name);
      }
      if (!ok) break;
    }
    return out;
  };

  const handlers: LowLevelHandlers = {
    lookup: async (req) => {
      try {
        return entry(await core.lookup(req.ino, req.name, req), req.ino, req.name);
      } catch (e) {
        const negative = t().negative;
        if (!negative || !isFsError(e, 'ENOENT')) throw e;
        // ino 0 with a timeout: a negative entry the kernel keeps (no lookup count is taken)
        coherence.negative(req.ino, req.name);
        return { ino: 0, attr: NO_ATTR, attrTimeout: 0, entryTimeout: negative };
      }
    },
    forget: (req) => {
      lookups.forget(req.ino, req.nlookup);
      coherence.forgotten(req.ino);
      if (lookups.of(req.ino) === 0 && req.ino !== ROOT_INO) parents.delete(req.ino);
    },
    getattr: async (req) => attrReply(await core.getattr(req.ino, req, req.fh)),
    setattr: async (req) => attrReply(await core.setattr(req.ino, changesOf(req), req, req.fh)),
    readlink: (req) => core.readlink(req.ino, req),
    mknod: async (req) => entry(await core.mknod(req.ino, req.name, req.mode, req.rdev, req), req.ino, req.name),
    mkdir: async (req) => entry(await core.mkdir(req.ino, req.name, req.mode, req), req.ino, req.name),
    unlink: (req) => core.unlink(req.ino, req.name, req),
    rmdir: (req) => core.rmdir(req.ino, req.name, req),
    symlink: async (req) => entry(await core.symlink(req.ino, req.name, req.target, req), req.ino, req.name),
    rename: async (req) => {
      await core.rename(req.ino, req.name, req.newParent, req.newName, req.flags, req);
    },
    link: async (req) => entry(await core.link(req.ino, req.newParent, req.name, req), req.newParent, req.name),
    open: async (req) => {
      const r = await core.open(req.ino, openFlags(req.flags), req);
      // open fetched the attributes afresh (close-to-open): the kernel's copy must not be older
      if (attrCaching) await coherence.opening(await core.getattr(req.ino, req, r.fh));
      return { fh: r.fh, keepCache: r.keepCache };
    },
    create: async (req) => {
      const r = await core.create(req.ino, req.name, req.mode, openFlags(req.flags), req);
      return { ...entry(r.attr, req.ino, req.name), fh: r.fh, keepCache: r.keepCache };
    },
    // the reply copies the bytes into the kernel: a view of a cached block costs no copy here
    read: (req) => core.read(req.fh, req.size, req.offset, req, writeback),
    write: (req) => core.write(req.fh, req.data, req.offset, req),
    flush: async (req) => {
      // a close drops the process's fcntl locks even when the data could not be flushed
      try {
        await core.flush(req.fh, req);
      } finally {
        if (core.releaseLocks) await core.releaseLocks(req.ino, req.lockOwner, 'posix', req);
      }
    },
    release: async (req) => {
      // the flock first: dropped with the last hold, it would go without telling other mounts' waiters
      try {
        if (req.flockRelease && core.releaseLocks) await core.releaseLocks(req.ino, req.lockOwner, 'flock', req);
      } finally {
        await core.release(req.fh, req);
      }
    },
    fsync: (req) => core.fsync(req.fh, req.datasync, req),
    opendir: async (req) => ({ fh: await core.opendir(req.ino, req.flags, req) }),
    readdir: (req) => list(req, false),
    readdirplus: (req) => list(req, true),
    releasedir: (req) => core.releasedir(req.fh, req),
    fsyncdir: (req) => core.fsyncdir(req.fh, req.datasync, req),
    statfs: async (req) => statfsToFuse(await core.statfs(req, req.ino)),
    setxattr: (req) => core.setxattr(req.ino, req.name, req.value, req.flags, req),
    getxattr: (req) => core.getxattr(req.ino, req.name, req),
    listxattr: (req) => core.listxattr(req.ino, req),
    removexattr: (req) => core.removexattr(req.ino, req.name, req),
    access: (req) => core.access(req.ino, req.mask, req),
    fallocate: (req) => core.fallocate(req.ino, req.fh, req.mode, req.offset, req.length, req),
    lseek: (req) => core.lseek(req.ino, req.fh, req.offset, req.whence, req),
  };
  // Lock ops only when the core has them: registered, they make libfuse ask the kernel for
  // FUSE_CAP_POSIX_LOCKS / FLOCK_LOCKS and every lock goes through us; absent, the kernel keeps
  // locks itself (per mount). FsCore has them: locks shared through the metadata server (docs/FUSE.md).
  if (core.getlk && core.setlk) {
    handlers.getlk = async (req) => ({ ...(await core.getlk!(req.ino, req.fh, req.lockOwner, req.lock, req)), whence: 0 });
    handlers.setlk = (req) => core.setlk!(req.ino, req.fh, req.lockOwner, req.lock, req.sleep, req);
  }
  if (core.flock) handlers.flock = (req) => core.flock!(req.ino, req.fh, req.lockOwner, req.operation, req);
  return { handlers, lookups, coherence };
}

/** setattr's fields as the core takes them (the request carries only those being set). */
function changesOf(req: SetattrRequest): AttrChanges {
  const ch: AttrChanges = {};
  if (req.mode !== undefined) ch.mode = req.mode;
  if (req.newUid !== undefined) ch.uid = req.newUid;
  if (req.newGid !== undefined) ch.gid = req.newGid;
  if (req.size !== undefined) ch.size = req.size;
  if (req.atime !== undefined) ch.atime = req.atime;
  if (req.mtime !== undefined) ch.mtime = req.mtime;
  // Only the kernel sets ctime (writeback cache: the times it kept, flushed with write_inode).
  if (req.ctime !== undefined) ch.kernelTimes = true;
  return ch;
}
