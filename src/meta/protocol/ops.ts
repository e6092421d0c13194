import { FsError } from '../../errors/index.js';
import type { MetaStore, OpContext } from '../types.js';
import { isObject } from './frames.js';

/**
 * The RPC op table: every MetaStore method callable over the wire, its argument shapes, where the
 * OpContext sits, and whether it mutates (mutating calls carry ctx.opId so a retry applies once).
 * The server validates arguments against this table before anything reaches the engine, so bad
 * input becomes EINVAL with a message naming the argument instead of a driver error.
 */
export type ArgKind = 'ino' | 'int' | 'name' | 'str' | 'bin' | 'ctx' | 'changes' | 'commit' | 'flags' | 'lock' | 'bool'
  | 'int?' | 'str?' | 'bool?' | 'flags?';

export interface OpSpec {
  args: ArgKind[];
  mutating: boolean;
}

/**
 * MetaStore methods that are not wire ops: `settings` is a session op, `close` ends the client,
 * `watch` is the server's changes frames (protocol/changes.ts), `hearsChanges` the client's socket state.
 */
type LocalOnly = 'settings' | 'close' | 'watch' | 'hearsChanges';
/** Every MetaStore method callable over the wire. */
export type MetaOpName = Exclude<keyof MetaStore, LocalOnly>;
/**
 * One entry per wire op, keyed by the MetaStore's method names: a MetaStore method without an
 * entry, or an entry naming no method, fails to compile.
 */
export type MetaOpTable = { readonly [K in MetaOpName]: OpSpec };

const OPS = {
  lookup: { args: ['ino', 'name', 'ctx'], mutating: false },
  getattr: { args: ['ino', 'ctx'], mutating: false },
  setattr: { args: ['ino', 'changes', 'ctx'], mutating: true },
  mknod: { args: ['ino', 'name', 'int', 'int', 'ctx'], mutating: true },
  create: { args: ['ino', 'name', 'int', 'ctx', 'bool?'], mutating: true },
  mkdir: { args: ['ino', 'name', 'int', 'ctx'], mutating: true },
  symlink: { args: ['ino', 'name', 'str', 'ctx'], mutating: true },
  readlink: { args: ['ino', 'ctx'], mutating: false },
  link: { args: ['ino', 'ino', 'name', 'ctx'], mutating: true },
  unlink: { args: ['ino', 'name', 'ctx'], mutating: true },
  rmdir: { args: ['ino', 'name', 'ctx'], mutating: true },
  rename: { args: ['ino', 'name', 'ino', 'name', 'ctx', 'flags?'], mutating: true },
  readdir: { args: ['ino', 'ctx', 'str?', 'int?'], mutating: false },
  statfs: { args: ['ctx', 'int?'], mutating: false },
  getxattr: { args: ['ino', 'str', 'ctx'], mutating: false },
  setxattr: { args: ['ino', 'str', 'bin', 'int', 'ctx'], mutating: true },
  listxattr: { args: ['ino', 'ctx'], mutating: false },
  removexattr: { args: ['ino', 'str', 'ctx'], mutating: true },
  open: { args: ['ino', 'ctx'], mutating: true },
  release: { args: ['ino', 'ctx'], mutating: true },
  commit: { args: ['commit', 'ctx'], mutating: true },
  blocks: { args: ['ino', 'int', 'int', 'ctx'], mutating: false },
  allocIds: { args: ['int', 'ctx'], mutating: true },
  getlk: { args: ['ino', 'str', 'lock', 'ctx'], mutating: false },
  setlk: { args: ['ino', 'str', 'lock', 'bool', 'ctx'], mutating: true },
  flock: { args: ['ino', 'str', 'int', 'ctx'], mutating: true },
  releaseLocks: { args: ['ino', 'str', 'str', 'ctx'], mutating: true },
} satisfies MetaOpTable;

/** The op table; also indexable by a name off the wire (check with Object.hasOwn first). */
export const META_OPS: MetaOpTable & Readonly<Record<string, OpSpec>> = OPS;

/** Session-level ops handled by the server itself, not the MetaStore. */
export const SESSION_OPS = new Set(['heartbeat', 'settings', 'bye']);

export function ctxIndex(spec: OpSpec): number {
  return spec.args.indexOf('ctx');
}

// Names and targets are length-checked by the engines (ENAMETOOLONG); this only bounds memory.
const MAX_STR = 65536;
const MAX_BIN = 1 << 20;
const MAX_WRITES = 4096;

function bad(op: string, i: number, what: string): FsError {
  return new FsError('EINVAL', `${op}: argument ${i + 1} ${what}`);
}

const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isTime = (v: unknown) => typeof v === 'bigint' || v === 'now' || isUint(v);

function checkCtx(op: string, i: number, v: unknown): OpContext {
  if (!isObject(v)) throw bad(op, i, 'must be a context map');
  if (!isUint(v.uid) || !isUint(v.gid)) throw bad(op, i, 'must carry numeric uid and gid');
  if (v.groups !== undefined && (!Array.isArray(v.groups) || v.groups.length > 1024 || !v.groups.every(isUint))) {
    throw bad(op, i, 'has invalid groups');
  }
  if (v.pid !== undefined && !isUint(v.pid)) throw bad(op, i, 'has an invalid pid');
  if (v.opId !== undefined && (typeof v.opId !== 'string' || v.opId.length === 0 || v.opId.length > 128)) {
    throw bad(op, i, 'has an invalid opId');
  }
  const ctx: OpContext = { uid: v.uid, gid: v.gid };
  if (v.groups !== undefined) ctx.groups = v.groups as number[];
  if (v.pid !== undefined) ctx.pid = v.pid as number;
  if (v.opId !== undefined) ctx.opId = v.opId as string;
  return ctx;
}

function checkChanges(op: string, i: number, v: unknown): void {
  if (!isObject(v)) throw bad(op, i, 'must be a map of changes');
  for (const [k, x] of Object.entries(v)) {
    if (x === undefined) continue;
    switch (k) {
      case 'mode': case 'uid': case 'gid': case 'size':
        if (!isUint(x)) throw bad(op, i, `field "${k}" must be a non-negative integer`);
        break;
      case 'atime': case 'mtime': case 'ctime':
        if (!isTime(x)) throw bad(op, i, `field "${k}" must be a time in ns or "now"`);
        if (typeof x === 'number') v[k] = BigInt(x);
        break;
      case 'keepCtime':
        if (typeof x !== 'boolean') throw bad(op, i, 'field "keepCtime" must be a boolean');
        break;
      default:
        throw bad(op, i, `has unknown field "${k}"`);
    }
  }
}

function checkLock(op: string, i: number, v: unknown): void {
  if (!isObject(v)) throw bad(op, i, 'must be a lock {type, start, len, pid}');
  for (const k of ['type', 'start', 'len', 'pid']) if (!isUint(v[k])) throw bad(op, i, `field "${k}" must be a non-negative integer`);
  for (const k of Object.keys(v)) if (!['type', 'start', 'len', 'pid'].includes(k)) throw bad(op, i, `has unknown field "${k}"`);
}

function checkCommit(op: string, i: number, v: unknown): void {
  if (!isObject(v)) throw bad(op, i, 'must be a commit request');
  if (!isUint(v.ino) || !isUint(v.size)) throw bad(op, i, 'must carry ino and size');
  if (typeof v.mtime !== 'bigint' && !isUint(v.mtime)) throw bad(op, i, 'must carry mtime in ns');
  if (typeof v.mtime === 'number') v.mtime = BigInt(v.mtime);
  if (!Array.isArray(v.writes) || v.writes.length > MAX_WRITES) throw bad(op, i, `must carry at most ${MAX_WRITES} writes`);
  for (const w of v.writes) {
    if (!isObject(w) || !isUint(w.index) || !isUint(w.blockId) || !isUint(w.length)) {
      throw bad(op, i, 'has a write without numeric index, blockId and length');
    }
  }
}

/**
 * Validate `args` for `op` in place and return the position of the context argument.
 * Throws FsError('EINVAL') naming the argument that is wrong.
 */
export function validateArgs(op: string, spec: OpSpec, args: unknown[]): number {
  if (args.length > spec.args.length) throw new FsError('EINVAL', `${op}: takes at most ${spec.args.length} arguments`);
  let ci = -1;
  spec.args.forEach((kind, i) => {
    const v = args[i];
    const optional = kind.endsWith('?');
    if (optional && (v === undefined || v === null)) { args[i] = undefined; return; }
    switch (kind) {
      case 'ino': if (!isUint(v) || v === 0) throw bad(op, i, 'must be an inode number'); break;
      case 'int': case 'int?': if (!isUint(v)) throw bad(op, i, 'must be a non-negative integer'); break;
      case 'name': case 'str': case 'str?':
        if (typeof v !== 'string') throw bad(op, i, 'must be a string');
        if (v.length > MAX_STR) throw new FsError('ENAMETOOLONG', `${op}: argument ${i + 1} is too long`);
        break;
      case 'bool': case 'bool?': if (typeof v !== 'boolean') throw bad(op, i, 'must be a boolean'); break;
      case 'bin':
        if (!Buffer.isBuffer(v) && !(v instanceof Uint8Array)) throw bad(op, i, 'must be binary');
        if (v.length > MAX_BIN) throw bad(op, i, 'is too large');
        if (!Buffer.isBuffer(v)) args[i] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
        break;
      case 'flags': case 'flags?':
        if (!isObject(v)) throw bad(op, i, 'must be a map of flags');
        for (const [k, x] of Object.entries(v)) {
          if (k !== 'noReplace' && k !== 'exchange') throw bad(op, i, `has unknown flag "${k}"`);
          if (x !== undefined && typeof x !== 'boolean') throw bad(op, i, `flag "${k}" must be a boolean`);
        }
        break;
      case 'changes': checkChanges(op, i, v); break;
      case 'commit': checkCommit(op, i, v); break;
      case 'lock': checkLock(op, i, v); break;
      case 'ctx': args[i] = checkCtx(op, i, v); ci = i; break;
    }
  });
  return ci;
}
