import { parseSseMode } from '../../store/sse.js';
import { KERNEL_CACHE_DEFAULTS, TIMEOUTS, VFS_DEFAULTS } from '../../config/defaults.js';
import { mountCacheMs, type CacheTimeoutChoice, type CacheTimeouts } from '../../vfs/cache-timeouts.js';
import { durationFlag, parseDuration } from '../shared/table.js';
import { checkValue, hostPortValue, idPairValue, sizeValue, UsageError, type ValueCheck } from '../shared/flag-values.js';
import { parseIdPair } from '../../config/identity.js';
import type { SquashOptions } from '../../vfs/squash.js';
import { LOG_VALUE_CHECKS, type LogFlags } from '../shared/log-options.js';
import { parseAtTime } from '../../meta/history/window.js';

/** Flags of `mount.flexfs start`, as commander hands them over (sizes still strings). */
export interface MountStartFlags extends LogFlags {
  local?: string;
  /** true (`--sse`, `-o sse`) or 'require' (`--sse=require`, `-o sse=require`); see parseSseMode. */
  sse?: boolean | string;
  ro?: boolean;
  noATime?: boolean;
  noExec?: boolean;
  noSUID?: boolean;
  noDev?: boolean;
  nonEmpty?: boolean;
  umask?: string;
  /** uid:gid that callers with uid 0 act as (vfs/squash.ts; fstab rootSquash=). */
  rootSquash?: string;
  /** uid:gid that every caller acts as (vfs/squash.ts; fstab allSquash=). */
  allSquash?: string;
  /** POSIX ACLs (default on); false from `--no-acl`, fstab `noacl` or `acl=false`. */
  acl?: boolean;
  foreground?: boolean;
  credsFile?: string;
  secretFile?: string;
  memCapacity?: string;
  diskFolder?: string;
  diskQuota?: string;
  verbose?: boolean;
  /** Opt-in Prometheus endpoint `[host:]port` (src/ops/mount-telemetry.ts). */
  metricsPort?: string;
  /** Kernel attribute / entry cache timeouts in seconds (--attrTTL, --entryTTL; fstab attrttl=, entryttl=). */
  attrTTL?: string;
  entryTTL?: string;
  negativeTTL?: string;
  /** Mount without checking at start that the block store answers (--skipStoreCheck). */
  skipStoreCheck?: boolean;
  /** The kernel's writeback cache (--writebackCache; fstab writeback_cache): off by default. */
  writebackCache?: boolean;
  /** How long a block upload or fetch keeps retrying before EIO (--storeDeadline; fstab storedeadline=). */
  storeDeadline?: string;
  /** Proxy group `host:port,host:port` (`+` also separates, for mount -o); overrides the volume's `proxies`. */
  proxy?: string;
  /** Mount read-only the volume as it was at this time (--atTime; fstab atTime=): ISO 8601 with a zone. */
  atTime?: string;
  /** Internal: fd to report readiness to a daemonizing parent. */
  readyFd?: string;
}

/** mount(8) options that mean nothing to flexfs itself (handled by mount/systemd). */
const IGNORED = new Set(['_netdev', 'nofail', 'auto', 'noauto', 'defaults', 'user', 'users', 'nouser', 'rw', 'x-systemd.automount']);

const BOOLEAN: Record<string, keyof MountStartFlags> = {
  ro: 'ro', noatime: 'noATime', noexec: 'noExec', nosuid: 'noSUID', nodev: 'noDev',
  nonempty: 'nonEmpty', foreground: 'foreground', verbose: 'verbose', writeback_cache: 'writebackCache', writebackcache: 'writebackCache',
  skipstorecheck: 'skipStoreCheck',
  // mount(8) defaults for these are the opposite flags: nothing to do.
};
const NEGATED_DEFAULTS = new Set(['atime', 'relatime', 'exec', 'suid', 'dev', 'async']);
const VALUED: Record<string, keyof MountStartFlags> = {
  credsfile: 'credsFile', secretfile: 'secretFile', umask: 'umask', memcapacity: 'memCapacity',
  diskfolder: 'diskFolder', diskquota: 'diskQuota', local: 'local', metricsport: 'metricsPort',
  proxy: 'proxy', attrttl: 'attrTTL', entryttl: 'entryTTL', negativettl: 'negativeTTL', storedeadline: 'storeDeadline',
  rootsquash: 'rootSquash', allsquash: 'allSquash',
  attime: 'atTime',
  logformat: 'logFormat', logfile: 'logFile', logmaxsize: 'logMaxSize', logkeep: 'logKeep',
};

/**
 * Map a mount(8)/fstab option string ("_netdev,nofail,sse,credsFile=/x") onto start flags.
 * Ignores what mount/systemd handle; an unknown option is an error naming it.
 */
export function parseMountOptions(text: string | undefined): MountStartFlags {
  const out: MountStartFlags = {};
  for (const raw of (text ?? '').split(',')) {
    const opt = raw.trim();
    if (!opt) continue;
    const eq = opt.indexOf('=');
    const key = (eq < 0 ? opt : opt.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? undefined : opt.slice(eq + 1);
    if (IGNORED.has(key) || key.startsWith('x-') || key.startsWith('comment=')) continue;
    if (NEGATED_DEFAULTS.has(key) && value === undefined) continue;
    if (key === 'sse') {
      // `sse` or `sse=require` (an unknown value is refused here, naming the option).
      out.sse = parseSseMode(value === undefined ? true : value, 'mount option sse') === 'require' ? 'require' : true;
      continue;
    }
    if (key in BOOLEAN && value === undefined) {
      (out as Record<string, unknown>)[BOOLEAN[key]] = true;
      continue;
    }
    if (key === 'acl' || key === 'noacl') {
      out.acl = parseOnOff(key, value) !== (key === 'noacl');
      continue;
    }
    if (key in VALUED) {
      if (!value) throw new Error(`mount option "${key}" needs a value (${key}=...)`);
      (out as Record<string, unknown>)[VALUED[key]] = value;
      continue;
    }
    throw new Error(`unknown mount option "${opt}"`);
  }
  return out;
}

/** A switch option: bare (`acl`) means on, else `=true|false|on|off|yes|no|1|0`. */
function parseOnOff(key: string, value: string | undefined): boolean {
  if (value === undefined) return true;
  const v = value.toLowerCase();
  if (['true', 'on', 'yes', '1'].includes(v)) return true;
  if (['false', 'off', 'no', '0'].includes(v)) return false;
  throw new Error(`mount option "${key}=${value}": expected true or false`);
}

/**
 * The proxy list of `--proxy` / `-o proxy=`: host:port items separated by `,` or `+` (mount -o
 * splits its options on commas, so fstab lines write `proxy=p1:9450+p2:9450`). Duplicates and
 * items that are not host:port are refused later by parseProxyList, with the item named.
 */
export function splitProxyList(text: string): string[] {
  const items = text.split(/[,+]/).map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new Error(`proxy list "${text}" names no proxy (expected host:port[+host:port…])`);
  return items;
}

/** A cache timeout flag: seconds, a non-negative number (fractions allowed). */
export function parseTtl(flag: string, text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0) throw new Error(`${flag} "${text}": expected seconds, a number ≥ 0 (e.g. 60)`);
  return n;
}

/**
 * --attrTTL / --entryTTL / --negativeTTL: the kernel's cache timeouts while the mount hears other
 * mounts' changes (`heard`: a connected meta.flexfs session) and while it does not (`unheard`), and
 * how long the mount's own metadata cache trusts what it holds in each case (never less than the
 * kernel: a request the kernel passes on must not find older data here). A flag sets both; on a
 * meta.flexfs mount (`remote`) the unheard timeout never exceeds the default's: with the
 * connection down nothing is pushed, so nothing is trusted long. A `--local` mount never hears
 * (no pushes between two mounts of one folder): it takes the flags as given.
 */
export function kernelTtls(flags: Pick<MountStartFlags, 'attrTTL' | 'entryTTL' | 'negativeTTL'>, remote: boolean): {
  timeouts: CacheTimeoutChoice; cacheMs: { heard: number; unheard: number };
} {
  const pick = (flag: string, text: string | undefined, key: keyof CacheTimeouts): [number, number] => {
    const given = text !== undefined ? parseTtl(flag, text) : undefined;
    const unheardDefault = KERNEL_CACHE_DEFAULTS.unheard[key];
    const unheard = given === undefined ? unheardDefault : remote ? Math.min(given, unheardDefault) : given;
    return [given ?? KERNEL_CACHE_DEFAULTS.heard[key], unheard];
  };
  const [attrH, attrU] = pick('--attrTTL', flags.attrTTL, 'attr');
  const [entryH, entryU] = pick('--entryTTL', flags.entryTTL, 'entry');
  const [negH, negU] = pick('--negativeTTL', flags.negativeTTL, 'negative');
  const heard = { attr: attrH, entry: entryH, negative: negH };
  const unheard = { attr: attrU, entry: entryU, negative: negU };
  return { timeouts: { heard, unheard }, cacheMs: { heard: mountCacheMs(heard), unheard: mountCacheMs(unheard) } };
}

/**
 * --storeDeadline: seconds or a duration (90s, 5m), at least 1 s and short enough that an upload
 * and the commit after it still fit in the FUSE request's own deadline.
 */
export function parseStoreDeadline(text: string): number {
  let seconds: number;
  try { seconds = parseDuration(text); } catch { throw new Error(`--storeDeadline "${text}": expected seconds or a duration like 90s or 5m`); }
  const maxMs = TIMEOUTS.fuseOpMs - TIMEOUTS.metaDeadlineMs - 1000;
  if (seconds < 1 || seconds * 1000 > maxMs) {
    throw new Error(`--storeDeadline "${text}": must be from 1s to ${durationFlag(Math.floor(maxMs / 1000))} (the FUSE request deadline, ${TIMEOUTS.fuseOpMs / 1000} s, must cover the upload and the commit)`);
  }
  return seconds * 1000;
}

/** Parse an octal umask such as "022" or "0027". */
export function parseUmask(text: string): number {
  if (!/^0?[0-7]{1,3}$/.test(text)) throw new Error(`umask "${text}": expected octal like 022`);
  return parseInt(text, 8);
}

/** The value checks of `start` flags, by flag (key of MountStartFlags). */
const VALUE_CHECKS: Partial<Record<keyof MountStartFlags, ValueCheck>> = {
  memCapacity: sizeValue(true),
  diskQuota: sizeValue(true),
  umask: parseUmask,
  attrTTL: (t) => parseTtl('--attrTTL', t),
  entryTTL: (t) => parseTtl('--entryTTL', t),
  negativeTTL: (t) => parseTtl('--negativeTTL', t),
  storeDeadline: parseStoreDeadline,
  metricsPort: hostPortValue(true),
  proxy: splitProxyList,
  rootSquash: idPairValue,
  allSquash: idPairValue,
  atTime: (t) => parseAtTime(t),
  ...LOG_VALUE_CHECKS,
};

/**
 * Check every flag value before anything starts (and before the mount daemonizes, so a bad value
 * reaches the operator as a usage error, exit 2, not as a failed daemon): from the command line
 * and from mount -o / fstab alike. Throws a UsageError naming the flag and the expected form.
 */
export function checkStartFlagValues(flags: MountStartFlags): void {
  for (const [key, check] of Object.entries(VALUE_CHECKS) as Array<[keyof MountStartFlags, ValueCheck]>) {
    const value = flags[key];
    if (typeof value === 'string') checkValue(`--${key}`, value, check);
  }
  if (flags.rootSquash !== undefined && flags.allSquash !== undefined) {
    throw new UsageError('--rootSquash and --allSquash: give one of them (allSquash maps root too)');
  }
}

/** --rootSquash / --allSquash (values checked already) as the VFS takes them. */
export function squashOptions(flags: Pick<MountStartFlags, 'rootSquash' | 'allSquash'>): SquashOptions {
  return {
    rootSquash: flags.rootSquash !== undefined ? parseIdPair(flags.rootSquash) : undefined,
    allSquash: flags.allSquash !== undefined ? parseIdPair(flags.allSquash) : undefined,
  };
}
