import { errnoOf, toErrno } from '../../errors/index.js';
import { loadAddon, type NativeConnInfo, type NativeEvent, type NativeSession } from './native.js';
import { FUSE_DEFAULTS, TIMEOUTS } from '../../config/defaults.js';
import type {
  AttrReply, CreateReply, DirReply, Entry, FlockLock, LowLevelHandlers, OpName, OpenReply, StatfsReply,
} from './types.js';

/**
 * A FUSE mount served by JavaScript handlers over libfuse3's low-level API (docs/FUSE.md).
 * The addon queues requests from libfuse's threads and delivers them here in batches; each
 * handler's reply (or thrown error → errno) goes back with the request's id. The addon answers EIO
 * for a request not answered within `deadlineMs`; a reply after that is dropped (reply → false).
 */
export interface LowLevelMountOptions {
  /** Mount source shown in /proc/mounts (default 'flexfs'). */
  fsname?: string;
  /** Type suffix: fuse.<subtype> (default 'flexfs'). */
  subtype?: string;
  allowOther?: boolean;
  defaultPermissions?: boolean;
  readOnly?: boolean;
  nosuid?: boolean;
  nodev?: boolean;
  noexec?: boolean;
  /** Largest read request in bytes (mount option max_read; default: the kernel's, 1 MiB with max_pages). */
  maxRead?: number;
  /** Largest write request (default 1 MiB: max_pages 256). */
  maxWrite?: number;
  /** READDIRPLUS: 'always' (default), 'auto' (kernel decides per directory read), 'off'. */
  readdirplus?: 'always' | 'auto' | 'off';
  /** Kernel write-back caching (off by default). */
  writebackCache?: boolean;
  /** Ask for POSIX ACL support (the kernel then sends the umask and leaves ACL checks to us). */
  posixAcl?: boolean;
  /**
   * The kernel sends create/mknod/mkdir modes unmasked and the umask beside them
   * (FUSE_CAP_DONT_MASK, implied by posixAcl): the filesystem applies it (or a default ACL).
   */
  dontMask?: boolean;
  /** The kernel passes O_TRUNC to open instead of a setattr(size 0) (off by default). */
  atomicOTrunc?: boolean;
  /** The filesystem clears SUID/SGID on write/chown itself (FUSE_CAP_HANDLE_KILLPRIV; default on). */
  handleKillpriv?: boolean;
  /** Answer EIO for a request JavaScript has not answered within this long (default 30 s). */
  deadlineMs?: number;
  /** Default cache timeouts (seconds) for replies that do not give one (default 0). */
  attrTimeout?: number;
  entryTimeout?: number;
  /** Ops whose requests carry the caller's supplementary groups (read from /proc per request). */
  callerGroupsOps?: readonly OpName[];
  /**
   * Who reads /dev/fuse: 'threads' (default: libfuse's loop on its own threads, requests handed to
   * the JS thread through a thread-safe function) or 'inline' (the JS thread polls the device and
   * reads the requests itself: one thread wake per request instead of two; see docs/FUSE.md).
   */
  receive?: 'threads' | 'inline';
  /** Threads reading /dev/fuse in 'threads' mode (they only queue requests; default 4). */
  maxThreads?: number;
  /** Extra raw -o options for libfuse (e.g. 'max_readahead=…'). */
  extraOptions?: string[];
  /** A handler failed with a non-FsError (answered EIO): for logging. */
  onError?: (op: OpName, err: unknown) => void;
  /** Every failed request, whatever its errno (ENOENT included): the op, the request, the error. Must be cheap. */
  onFailure?: (op: OpName, req: Record<string, unknown>, err: unknown) => void;
  /** The kernel ended the session on its own (umount from outside). */
  onUnmounted?: () => void;
}

const EIO = errnoOf('EIO');
const ERANGE = errnoOf('ERANGE');
const FUSE_SET_ATTR_ATIME_NOW = 1 << 7;
const FUSE_SET_ATTR_MTIME_NOW = 1 << 8;

/** Build libfuse's -o list from the options. */
export function mountArgs(o: LowLevelMountOptions): string[] {
  const opts = [`fsname=${o.fsname ?? 'flexfs'}`, `subtype=${o.subtype ?? 'flexfs'}`];
  if (o.allowOther) opts.push('allow_other');
  if (o.defaultPermissions) opts.push('default_permissions');
  if (o.readOnly) opts.push('ro');
  if (o.nosuid) opts.push('nosuid');
  if (o.nodev) opts.push('nodev');
  if (o.noexec) opts.push('noexec');
  if (o.maxRead !== undefined) opts.push(`max_read=${o.maxRead}`);
  for (const x of o.extraOptions ?? []) opts.push(x);
  for (const x of opts) {
    if (/[,\s]/.test(x.replace(/^fsname=/, ''))) throw new Error(`FUSE mount option "${x}" must not contain commas or spaces`);
  }
  return ['-o', opts.join(',')];
}

type Reply = (s: NativeSession, id: number, value: unknown, req: Record<string, unknown>) => boolean;

export class LowLevelSession {
  private readonly native: NativeSession;
  private readonly opNames: string[];
  /** Handler per op code (undefined: not implemented). */
  private readonly byCode: (((req: never) => unknown) | undefined)[];
  private readonly replies: (Reply | undefined)[];
  private readonly FORGET: number;
  private readonly BATCH_FORGET: number;
  private readonly SETATTR: number;
  private mounted = false;
  private closing = false;
  private initResolve?: () => void;
  private readonly initDone: Promise<void>;
  /** Replies dropped because the request had already been answered (deadline) or the session closed. */
  lateReplies = 0;

  constructor(private readonly handlers: LowLevelHandlers, private readonly opts: LowLevelMountOptions = {}) {
    const addon = loadAddon();
    this.opNames = addon.OP_NAMES;
    this.native = new addon.Session((events) => this.dispatch(events));
    this.byCode = this.opNames.map((n) => {
      const name = (n === 'batchForget' ? 'forget' : n) as OpName;
      const h = handlers[name] as ((req: never) => unknown) | undefined;
      return h ? h.bind(handlers) : undefined;
    });
    this.replies = this.opNames.map((n) => this.replyFor(n));
    this.FORGET = this.opNames.indexOf('forget');
    this.BATCH_FORGET = this.opNames.indexOf('batchForget');
    this.SETATTR = this.opNames.indexOf('setattr');
    this.initDone = new Promise((r) => { this.initResolve = r; });
  }

  /** Mount and wait for the kernel's INIT (capabilities negotiated). */
  async mount(mountpoint: string): Promise<void> {
    const o = this.opts;
    const code = (n: string) => this.opNames.indexOf(n);
    const ops: number[] = [];
    this.byCode.forEach((h, i) => { if (h) ops.push(i); });
    this.native.mount(mountpoint, {
      args: mountArgs(o),
      ops,
      groupsOps: (o.callerGroupsOps ?? []).map(code).filter((c) => c >= 0),
      maxWrite: o.maxWrite ?? FUSE_DEFAULTS.maxRequestBytes,
      readdirplus: o.readdirplus === 'off' ? 0 : o.readdirplus === 'auto' ? 2 : 1,
      writebackCache: o.writebackCache ?? false,
      posixAcl: o.posixAcl ?? false,
      dontMask: o.dontMask ?? false,
      atomicOTrunc: o.atomicOTrunc ?? false,
      handleKillpriv: o.handleKillpriv ?? true,
      deadlineMs: o.deadlineMs ?? TIMEOUTS.fuseOpMs,
      maxThreads: o.maxThreads ?? FUSE_DEFAULTS.maxThreads,
      inline: o.receive === 'inline',
    });
    this.mounted = true;
    await this.initDone;
  }

  /** Lazy unmount, wait for libfuse's loop to end, fail what is still pending, close. */
  async unmount(): Promise<void> {
    if (!this.mounted) return;
    this.closing = true;
    await this.native.unmount();
    this.mounted = false;
  }

  /** What the kernel and libfuse agreed in INIT (null before). */
  connInfo(): NativeConnInfo | null { return this.native.connInfo(); }

  /** Requests handed to JavaScript and not answered yet. */
  pendingCount(): number { return this.native.pendingCount(); }

  // ---- notifications (never from inside a handler's synchronous path: they may block in the kernel) ----
  /** Drop the kernel's cached attributes of `ino` and its page cache in [offset, offset+length) (length 0: to the end; offset -1: attributes only). */
  invalidateInode(ino: number, offset = 0, length = 0): Promise<number> { return this.native.notifyInvalInode(ino, offset, length); }
  /** Drop the kernel's cached name `name` in directory `parent`. */
  invalidateEntry(parent: number, name: string): Promise<number> { return this.native.notifyInvalEntry(parent, name); }
  /** The name is gone (and `child` was its inode): drop it and its dentry. */
  notifyDelete(parent: number, child: number, name: string): Promise<number> { return this.native.notifyDelete(parent, child, name); }

  // ---- dispatch ----
  private dispatch(events: NativeEvent[]): void {
    for (const ev of events) {
      if ('event' in ev) {
        if (ev.event === 'init') this.initResolve?.();
        else if (ev.event === 'loopExit' && this.mounted && !this.closing) this.opts.onUnmounted?.();
        continue;
      }
      const op = ev.op;
      if (op === this.FORGET || op === this.BATCH_FORGET) { this.forget(ev); continue; }
      const handler = this.byCode[op];
      const id = ev.id;
      try {
        const req = this.normalize(ev);
        const v = handler!(req as never);
        if (v instanceof Promise) v.then((r) => this.reply(op, id, r, ev), (e) => this.fail(op, id, e, ev));
        else this.reply(op, id, v, ev);
      } catch (e) {
        this.fail(op, id, e, ev);
      }
    }
  }

  private forget(ev: Record<string, unknown>): void {
    const h = this.handlers.forget;
    if (!h) return;
    try {
      if (ev.forgets) {
        const f = ev.forgets as number[];
        for (let i = 0; i < f.length; i += 2) h.call(this.handlers, { ino: f[i], nlookup: f[i + 1] });
      } else {
        h.call(this.handlers, { ino: ev.ino as number, nlookup: ev.nlookup as number });
      }
    } catch (e) {
      this.opts.onError?.('forget', e);
    }
  }

  /** Request fields that need a JavaScript shape (setattr times). */
  private normalize(ev: Record<string, unknown>): Record<string, unknown> {
    if (ev.op === this.SETATTR) {
      const toSet = ev.toSet as number;
      if (toSet & FUSE_SET_ATTR_ATIME_NOW) ev.atime = 'now';
      if (toSet & FUSE_SET_ATTR_MTIME_NOW) ev.mtime = 'now';
    }
    return ev;
  }

  private reply(op: number, id: number, value: unknown, req: Record<string, unknown>): void {
    let ok: boolean;
    try {
      ok = this.replies[op]!(this.native, id, value, req);
    } catch (e) {
      this.fail(op, id, e);
      return;
    }
    if (!ok) this.lateReplies++;
  }

  private fail(op: number, id: number, e: unknown, req?: Record<string, unknown>): void {
    const errno = toErrno(e);
    if (req) this.opts.onFailure?.(this.opNames[op] as OpName, req, e);
    if (errno === EIO) this.opts.onError?.(this.opNames[op] as OpName, e);
    if (!this.native.replyErr(id, errno)) this.lateReplies++;
  }

  private replyFor(op: string): Reply | undefined {
    const attrTimeout = this.opts.attrTimeout ?? 0;
    const entryTimeout = this.opts.entryTimeout ?? 0;
    const withTimeouts = (e: Entry): Entry => (e.attrTimeout === undefined || e.entryTimeout === undefined
      ? { ...e, attrTimeout: e.attrTimeout ?? attrTimeout, entryTimeout: e.entryTimeout ?? entryTimeout } : e);
    switch (op) {
      case 'lookup': case 'mknod': case 'mkdir': case 'symlink': case 'link':
        return (s, id, v) => s.replyEntry(id, withTimeouts(v as Entry));
      case 'create':
        return (s, id, v) => s.replyCreate(id, withTimeouts(v as CreateReply));
      case 'getattr': case 'setattr':
        return (s, id, v) => { const r = v as AttrReply; return s.replyAttr(id, r.attr, r.timeout ?? attrTimeout); };
      case 'readlink':
        return (s, id, v) => s.replyReadlink(id, v as string);
      case 'open': case 'opendir':
        return (s, id, v) => s.replyOpen(id, v as OpenReply);
      case 'read':
        return (s, id, v) => s.replyBuf(id, v as Uint8Array);
      case 'readdir': case 'readdirplus':
        return (s, id, v) => s.replyBuf(id, (v as DirReply).bytes());
      case 'write':
        return (s, id, v) => s.replyWrite(id, v as number);
      case 'statfs':
        return (s, id, v) => s.replyStatfs(id, v as StatfsReply);
      case 'lseek':
        return (s, id, v) => s.replyLseek(id, v as number);
      case 'getlk':
        return (s, id, v) => s.replyLock(id, v as FlockLock);
      case 'getxattr':
        return (s, id, v, req) => sized(s, id, v as Uint8Array, req.size as number);
      case 'listxattr':
        return (s, id, v, req) => sized(s, id, Buffer.from((v as string[]).map((n) => `${n}\0`).join('')), req.size as number);
      case 'forget': case 'batchForget':
        return undefined;
      default: // unlink rmdir rename flush release fsync releasedir fsyncdir setxattr removexattr access fallocate setlk flock
        return (s, id) => s.replyErr(id, 0);
    }
  }
}

/** getxattr/listxattr: size 0 asks for the length; a value longer than size is ERANGE. */
function sized(s: NativeSession, id: number, value: Uint8Array, size: number): boolean {
  if (size === 0) return s.replyXattr(id, value.length);
  if (value.length > size) return s.replyErr(id, ERANGE);
  return s.replyBuf(id, value);
}
