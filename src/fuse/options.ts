/**
 * FUSE mount options for a flexfs mount, built in one place so the real client and the null
 * filesystem bench mount with exactly the same settings.
 */
export interface FuseMountOptions {
  /** Shown as the source in mount(8)/df: normally the volume name. */
  fsname: string;
  readOnly?: boolean;
  /** Let other users use the mount; default: true when running as root. */
  allowOther?: boolean;
  noExec?: boolean;
  noSuid?: boolean;
  noDev?: boolean;
  noAtime?: boolean;
  /** Allow mounting over a non-empty directory. */
  nonEmpty?: boolean;
  /**
   * Let the kernel check mode bits (`default_permissions`, default true). The flexfs mount turns
   * it off with ACLs on: libfuse 2 gives the kernel no ACLs, so it would refuse what a named-user
   * entry grants; the VFS then checks everything itself (src/vfs/permissions.ts).
   */
  defaultPermissions?: boolean;
  /**
   * Permission bits to mask from every reported mode, e.g. 0o022 (applied by the adapter:
   * libfuse's own `umask=` would replace the bits with 0777 & ~umask instead of masking them).
   */
  umask?: number;
  /**
   * Kernel attribute / entry cache timeouts in seconds (defaults 0 and 1). Attributes are not
   * cached by the kernel (the VFS caches them for 1 s, refreshed at every open) because the
   * kernel clamps reads to the size it cached: a reader that stat'ed a file just before another
   * client grew it would otherwise read the old length after open, breaking close-to-open.
   */
  attrTimeout?: number;
  entryTimeout?: number;
  /** Cache of failed lookups in seconds (default 0: a file created elsewhere shows up at once). */
  negativeTimeout?: number;
  /** Keep page cache across opens unless mtime/size changed (default true). */
  autoCache?: boolean;
  /** Largest write/read request the kernel sends (default 131072, the FUSE 2.9 maximum). */
  maxWrite?: number;
  maxRead?: number;
  maxReadahead?: number;
  /** Extra raw options appended last (e.g. ['debug']). */
  extraOptions?: string[];
  /** Safety net: an op unanswered after this many ms fails with ETIMEDOUT (default 600000; 0 = none). */
  opTimeoutMs?: number;
  /** Called with every error an operation answers with (ENOENT included), for logging. Must be cheap. */
  onError?: (op: string, path: string, err: unknown) => void;
}

export const DEFAULT_MAX_WRITE = 131072;

/** Raw -o options (without the "-o"), validated: no commas or empty entries. */
export function buildFuseOptions(opts: FuseMountOptions, isRoot = process.getuid?.() === 0): string[] {
  if (!opts.fsname || /[,\s]/.test(opts.fsname)) {
    throw new Error(`invalid fsname "${opts.fsname}": must be non-empty without commas or spaces`);
  }
  const maxWrite = opts.maxWrite ?? DEFAULT_MAX_WRITE;
  const maxRead = opts.maxRead ?? DEFAULT_MAX_WRITE;
  for (const [name, v] of [['maxWrite', maxWrite], ['maxRead', maxRead]] as const) {
    if (!Number.isInteger(v) || v < 4096) throw new Error(`${name} must be an integer >= 4096, got ${v}`);
  }
  const out = [
    `fsname=${opts.fsname}`,
    'subtype=flexfs',
    'big_writes',
    `max_write=${maxWrite}`,
    `max_read=${maxRead}`,
    // st_ino carries flexfs inode numbers (hard links share one; du/tar/rsync -H rely on it).
    'use_ino',
    `attr_timeout=${opts.attrTimeout ?? 0}`,
    `entry_timeout=${opts.entryTimeout ?? 1}`,
    `negative_timeout=${opts.negativeTimeout ?? 0}`,
  ];
  if (opts.defaultPermissions ?? true) out.push('default_permissions');
  if (opts.maxReadahead !== undefined) out.push(`max_readahead=${opts.maxReadahead}`);
  if (opts.autoCache ?? true) out.push('auto_cache');
  if (opts.allowOther ?? isRoot) out.push('allow_other');
  if (opts.readOnly) out.push('ro');
  if (opts.noExec) out.push('noexec');
  if (opts.noSuid) out.push('nosuid');
  if (opts.noDev) out.push('nodev');
  if (opts.noAtime) out.push('noatime');
  if (opts.nonEmpty) out.push('nonempty');
  if (opts.umask !== undefined) {
    if (!Number.isInteger(opts.umask) || opts.umask < 0 || opts.umask > 0o777) throw new Error(`invalid umask ${opts.umask}`);
  }
  for (const o of opts.extraOptions ?? []) {
    if (!o || o.includes(',')) throw new Error(`invalid FUSE option "${o}"`);
    out.push(o);
  }
  return out;
}
