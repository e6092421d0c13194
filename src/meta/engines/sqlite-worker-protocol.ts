import { FsError, errnoOf, isFsError, type ErrnoName } from '../../errors/index.js';
import type { MetaEngine } from '../engine.js';
import type { MetaStore } from '../types.js';

/**
 * Messages between the mount's event loop and the sqlite worker thread (sqlite-worker.ts). The
 * worker holds a whole SqliteEngine (core rules + sqlite); the loop side (sqlite-worker-client.ts)
 * forwards MetaEngine and MetaStore calls by method name. Values cross by structured clone, which
 * keeps bigint (ns times) but turns Buffer into a plain Uint8Array, and drops an Error's `code`:
 * hence `toBuffers` and `WorkerError` below.
 *
 * Why not the RPC op table (protocol/ops.ts): it validates arguments from untrusted clients and
 * adds op ids for retries over a network. The worker is the same process and never retries, so
 * it forwards the interfaces as they are; the method lists below are checked against them at
 * compile time, so a new MetaStore or MetaEngine method cannot be forgotten here.
 */

/** Every MetaStore method the worker answers (close is the engine's; watch: an embedded volume has no other sessions). */
export const STORE_METHODS = [
  'lookup', 'getattr', 'setattr', 'mknod', 'create', 'mkdir', 'symlink', 'readlink', 'link', 'unlink', 'rmdir',
  'rename', 'readdir', 'statfs', 'getxattr', 'setxattr', 'listxattr', 'removexattr', 'open', 'release', 'commit',
  'blocks', 'allocIds', 'settings', 'getlk', 'setlk', 'flock', 'releaseLocks',
] as const satisfies readonly (keyof MetaStore)[];

/** Every MetaEngine method forwarded as a plain call (volume, referencedBlocks and close are special). */
export const ENGINE_METHODS = [
  'createVolume', 'listVolumes', 'getVolume', 'volumeDetails', 'updateVolume', 'deleteVolume', 'createToken', 'listTokens', 'revokeToken', 'checkToken',
  'openSession', 'heartbeat', 'closeSession', 'expireSessions', 'listSessions', 'gcQueue', 'gcDone', 'checkNamespace',
  'historyStart', 'pruneHistory',
] as const satisfies readonly (keyof MetaEngine)[];

// Compile-time exhaustiveness: these fail to type-check when an interface gains a method.
type Missing<I, L extends readonly string[], Special extends string> = Exclude<keyof I, L[number] | Special>;
const storeComplete: [Missing<MetaStore, typeof STORE_METHODS, 'close' | 'watch' | 'hearsChanges'>] extends [never] ? true : never = true;
const engineComplete: [Missing<MetaEngine, typeof ENGINE_METHODS, 'kind' | 'volume' | 'referencedBlocks' | 'close' | 'changeBus'>] extends [never] ? true : never = true;
void storeComplete; void engineComplete;

export type StoreMethod = (typeof STORE_METHODS)[number];
export type EngineMethod = (typeof ENGINE_METHODS)[number];

/** Worker-only calls: paging referencedBlocks, group-commit counters, orderly close. */
export type ControlMethod = 'refsOpen' | 'refsNext' | 'commitStats' | 'close';

/** Loop → worker. `vol` set: a MetaStore call on that volume; absent: an engine or control call. */
export interface WorkerCall {
  id: number;
  vol?: string;
  /** With vol: the call reads the volume as of this time (ms; read-only, src/meta/history). */
  at?: number;
  method: StoreMethod | EngineMethod | ControlMethod;
  args: unknown[];
}

/** An error as it crosses the thread boundary; FsError keeps its errno name. */
export interface WorkerError {
  code?: string;
  message: string;
  name?: string;
}

/** Worker → loop. */
export type WorkerReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: WorkerError }
  | { ready: true; durability: 'power-loss' | 'process-crash' }
  | { ready: false; error: WorkerError };

/** A page of referencedBlocks. */
export interface RefsPage {
  iter: number;
  items: { ino: number; index: number; blockId: number; length: number }[];
  done: boolean;
}

export function encodeError(e: unknown): WorkerError {
  if (isFsError(e)) {
    const prefix = `${e.code}: `;
    return { code: e.code, message: e.message.startsWith(prefix) ? e.message.slice(prefix.length) : '' };
  }
  const err = e as { message?: unknown; name?: unknown } | null;
  return { message: typeof err?.message === 'string' ? err.message : String(e), name: typeof err?.name === 'string' ? err.name : undefined };
}

export function decodeError(w: WorkerError): Error {
  if (w.code !== undefined) {
    let known = false;
    try { errnoOf(w.code as ErrnoName); known = true; } catch { /* not an errno name */ }
    if (known) return new FsError(w.code as ErrnoName, w.message || undefined);
    return new FsError('EIO', w.message);
  }
  const err = new Error(w.message);
  if (w.name) err.name = w.name;
  return err;
}

/** Structured clone delivers Buffers as Uint8Arrays: make them Buffers again (no copy). */
export function toBuffer(v: unknown): unknown {
  return v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v;
}
