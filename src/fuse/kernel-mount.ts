import { resolve } from 'node:path';
import type { InodeFs } from '../vfs/types.js';
import { FUSE_DEFAULTS, TIMEOUTS } from '../config/defaults.js';
import { writeFile } from 'node:fs/promises';
import { findFuseMount } from './mountinfo.js';
import { makeKernelOps } from './kernel-ops.js';
import type { LookupCounts } from './lookup-counts.js';
import { LowLevelSession } from './lowlevel/session.js';
import { DEFAULT_CACHE_TIMEOUTS, type CacheTimeoutChoice, type CacheTimeouts } from '../vfs/cache-timeouts.js';

/** How a flexfs volume is mounted (the mount's flags, as typed data). */
export interface CoreMountOptions {
  /** Shown as the source in mount(8)/df: normally the volume name. */
  fsname: string;
  readOnly?: boolean;
  /** Let other users use the mount; default: true when running as root. */
  allowOther?: boolean;
  noExec?: boolean;
  noSuid?: boolean;
  noDev?: boolean;
  noAtime?: boolean;
  /**
   * POSIX ACLs (default true): the kernel is told the filesystem has them (FUSE_CAP_POSIX_ACL) and
   * checks them with the mode bits itself (`default_permissions` is always on), reading each
   * inode's ACL through getxattr once and keeping it until the inode is invalidated (other mounts'
   * changes are pushed, fuse/kernel-notify.ts). So names can be cached by the kernel on ACL mounts
   * too: a cached name's search permission is the kernel's check. The core checks as well
   * (src/vfs/permissions.ts: path callers, and belt and braces). false: mode bits only.
   */
  acl?: boolean;
  /** Permission bits masked from every reported mode, e.g. 0o022 (--umask). */
  umask?: number;
  /**
   * Seconds the kernel may cache attributes, names and absent names (--attrTTL, --entryTTL,
   * --negativeTTL; default DEFAULT_CACHE_TIMEOUTS): `heard` while the core hears other mounts'
   * changes (InodeFs.hearsOthers: a connected meta.flexfs session; they arrive pushed and
   * KernelCoherence drops them from the kernel), `unheard` otherwise. The kernel clamps reads to
   * the size it cached, so a cached size must never outlive a change another client committed:
   * besides the pushes, an open whose fresh attributes differ from the kernel's drops the kernel's
   * copy before it is answered.
   */
  timeouts?: CacheTimeoutChoice;
  /**
   * Kernel write-back caching (FUSE_CAP_WRITEBACK_CACHE; default off, docs/FUSE.md): writes
   * land in the page cache and reach the core as page writes at writeback, flush or fsync; the
   * kernel keeps size and mtime itself meanwhile, handles O_APPEND itself, and reads through
   * write-only handles to fill partial pages. kernel-ops adapts (makeKernelOps `writebackCache`).
   */
  writebackCache?: boolean;
  /** Largest write request (default FUSE_DEFAULTS.maxRequestBytes, 1 MiB). */
  maxWrite?: number;
  /** The kernel's readahead for the mount in KiB (default FUSE_DEFAULTS.readaheadKb; root only). */
  readaheadKb?: number;
  /** Safety net: an op unanswered after this many ms fails with EIO (default TIMEOUTS.fuseOpMs). */
  opTimeoutMs?: number;
  /** Called with every error an operation answers with (ENOENT included), for logging. Must be cheap. */
  onError?: (op: string, what: string, err: unknown) => void;
  /** The kernel ended the mount from outside (umount, fusermount3 -u). */
  onUnmounted?: () => void;
}

export interface CoreMount {
  readonly mountpoint: string;
  readonly session: LowLevelSession;
  /** Lookups the kernel holds per inode. */
  readonly lookups: LookupCounts;
  /** Unmount (lazily when busy). Does not destroy the core. */
  unmount(): Promise<void>;
}

/**
 * Mount the inode-level core at `mountpoint` through flexfs's own FUSE layer (libfuse3 low-level,
 * src/fuse/lowlevel). Resolves once the kernel has sent FUSE INIT. core.init() runs first;
 * destroying the core is the caller's job (unmount, then flush — see cli/mount).
 */
export async function mountCore(core: InodeFs, mountpoint: string, o: CoreMountOptions): Promise<CoreMount> {
  const mnt = resolve(mountpoint);
  if (!o.fsname || /[,\s]/.test(o.fsname)) throw new Error(`invalid fsname "${o.fsname}": must be non-empty without commas or spaces`);
  if (o.umask !== undefined && (!Number.isInteger(o.umask) || o.umask < 0 || o.umask > 0o777)) throw new Error(`invalid umask ${o.umask}`);
  if (await findFuseMount(mnt)) throw new Error(`${mnt} is already a FUSE mountpoint`);
  await core.init();
  const acl = o.acl ?? true;
  const writebackCache = o.writebackCache ?? false;
  const { heard, unheard } = o.timeouts ?? DEFAULT_CACHE_TIMEOUTS;
  const hears = core.hearsOthers?.bind(core);
  // Read per reply: the moment the session stops hearing (a dropped connection), replies shorten.
  const timeouts = hears ? () => (hears() ? heard : unheard) : () => unheard;
  const longest = hears ? longestOf(heard, unheard) : unheard;
  const { handlers, lookups, coherence } = makeKernelOps(core, { umask: o.umask, timeouts, longest, writebackCache });
  const onError = o.onError;
  const session = new LowLevelSession(handlers, {
    fsname: o.fsname,
    subtype: 'flexfs',
    allowOther: o.allowOther ?? process.getuid?.() === 0,
    defaultPermissions: true,
    posixAcl: acl,
    readOnly: o.readOnly,
    nosuid: o.noSuid,
    nodev: o.noDev,
    noexec: o.noExec,
    extraOptions: o.noAtime ? ['noatime'] : [],
    maxWrite: o.maxWrite ?? FUSE_DEFAULTS.maxRequestBytes,
    readdirplus: 'always',
    writebackCache,
    handleKillpriv: true,
    // The core applies the umask itself, or the parent's default ACL instead (POSIX.1e).
    dontMask: true,
    deadlineMs: o.opTimeoutMs ?? TIMEOUTS.fuseOpMs,
    attrTimeout: unheard.attr,
    entryTimeout: unheard.entry,
    onUnmounted: o.onUnmounted,
    onFailure: onError ? (op, req, err) => onError(op, describe(req), err) : undefined,
  });
  try {
    await session.mount(mnt);
  } catch (e) {
    throw new Error(`mounting ${mnt} failed: ${(e as Error).message}`, { cause: e });
  }
  await setReadahead(mnt, o.readaheadKb ?? FUSE_DEFAULTS.readaheadKb);
  // What other mounts change reaches the kernel's caches (after the core's: it subscribed first).
  coherence.attach(session);
  const unwatch = core.watchOthers?.((changes) => coherence.othersChanged(changes));
  let unmounting: Promise<void> | undefined;
  return {
    mountpoint: mnt,
    session,
    lookups,
    unmount() {
      unwatch?.();
      unmounting ??= session.unmount();
      return unmounting;
    },
  };
}

const longestOf = (a: CacheTimeouts, b: CacheTimeouts): CacheTimeouts =>
  ({ attr: Math.max(a.attr, b.attr), entry: Math.max(a.entry, b.entry), negative: Math.max(a.negative, b.negative) });

/**
 * Raise the kernel's readahead for the mount (as root: /sys/class/bdi/<major:minor>/read_ahead_kb),
 * so sequential reads arrive as 1 MiB requests. The device comes from /proc/self/mountinfo: this
 * process serves the mount and must not stat it. Best effort: without the right, the kernel's
 * default (128 KiB requests) stays.
 */
async function setReadahead(mountpoint: string, kb: number): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const m = await findFuseMount(mountpoint);
  if (!m || !/^\d+:\d+$/.test(m.device)) return;
  await writeFile(`/sys/class/bdi/${m.device}/read_ahead_kb`, String(kb)).catch(() => undefined);
}

/** What a request was about, for log lines: the inode and the name, if any. */
function describe(req: Record<string, unknown>): string {
  return req.name !== undefined ? `ino ${req.ino} "${req.name}"` : `ino ${req.ino}`;
}
