import { readFile } from 'node:fs/promises';
import { FsError, isFsError } from '../errors/index.js';
import { LOCK_DEFAULTS } from '../config/defaults.js';
import { F_UNLCK, LOCK_NB, LOCK_UN } from '../meta/locks/table.js';
import type { Changes, MetaStore, OpContext } from '../meta/types.js';
import type { Caller, RecordLock } from './types.js';

/**
 * The mount's side of shared locks: every fcntl/flock request of the kernel goes to the metadata
 * server (MetaStore getlk/setlk/flock/releaseLocks, meta/core/locks.ts), so all mounts of a
 * volume see one lock table. A blocking request (F_SETLKW, flock without LOCK_NB) that gets
 * EAGAIN waits here, without blocking the event loop, until the inode's locks change: this
 * mount changed them, or meta.flexfs said another mount did (`l` in Changes), or `retryMs`
 * passed (a missed change, locks freed by an expired session). While it waits, a signal pending
 * for the requesting process ends the wait with EINTR (the FUSE layer has no INTERRUPT: the
 * kernel keeps a killed process waiting for our answer).
 * Closes cost nothing when this mount never locked the inode: only owners seen here are released.
 */
export interface MountLocksOptions {
  meta: MetaStore;
  ctx: (c: Caller) => OpContext;
  retryMs?: number;
}

export class MountLocks {
  private readonly waiters = new Map<number, Set<() => void>>();
  /** `kind:ino:owner` of every lock this mount may hold on the server. */
  private readonly held = new Set<string>();
  private readonly retryMs: number;
  private readonly unwatch?: () => void;
  private closed = false;

  constructor(private readonly o: MountLocksOptions) {
    this.retryMs = o.retryMs ?? LOCK_DEFAULTS.retryMs;
    this.unwatch = o.meta.watch?.((c) => this.heard(c));
  }

  private heard(c: Changes | null): void {
    if (c === null) { for (const ino of [...this.waiters.keys()]) this.wake(ino); return; }
    for (const ino of c.l ?? []) this.wake(ino);
  }

  private wake(ino: number): void {
    const set = this.waiters.get(ino);
    if (!set) return;
    this.waiters.delete(ino);
    for (const w of set) w();
  }

  /** Wait until ino's locks may have changed, or retryMs. */
  private changed(ino: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(ino);
      if (!set) this.waiters.set(ino, (set = new Set()));
      const done = () => { clearTimeout(timer); set!.delete(done); resolve(); };
      const timer = setTimeout(done, this.retryMs);
      set.add(done);
    });
  }

  /** Retry `attempt` while it answers EAGAIN and `wait` holds. */
  private async retrying(ino: number, wait: boolean, c: Caller, attempt: () => Promise<void>): Promise<void> {
    for (;;) {
      try {
        await attempt();
        return;
      } catch (e) {
        if (!wait || !isFsError(e) || e.code !== 'EAGAIN' || this.closed) throw e;
      }
      await this.changed(ino);
      if (await signalPending(c.pid)) throw new FsError('EINTR', 'lock wait interrupted by a signal');
      if (this.closed) throw new FsError('EINTR', 'the mount is closing');
    }
  }

  async getlk(ino: number, owner: number, lock: RecordLock, c: Caller): Promise<RecordLock> {
    return this.o.meta.getlk(ino, String(owner), clamp(lock), this.o.ctx(c));
  }

  async setlk(ino: number, owner: number, lock: RecordLock, wait: boolean, c: Caller): Promise<void> {
    const l = clamp(lock);
    const key = `posix:${ino}:${owner}`;
    if (l.type !== F_UNLCK) this.held.add(key); // before the call: a lost reply must not leave a lock unreleased
    await this.retrying(ino, wait, c, () => this.o.meta.setlk(ino, String(owner), l, wait, this.o.ctx(c)));
    this.wake(ino);
  }

  async flock(ino: number, owner: number, operation: number, c: Caller): Promise<void> {
    const unlock = (operation & ~LOCK_NB) === LOCK_UN;
    if (!unlock) this.held.add(`flock:${ino}:${owner}`);
    const wait = !unlock && (operation & LOCK_NB) === 0;
    await this.retrying(ino, wait, c, () => this.o.meta.flock(ino, String(owner), operation & ~LOCK_NB, this.o.ctx(c)));
    if (unlock) this.held.delete(`flock:${ino}:${owner}`);
    this.wake(ino);
  }

  async releaseLocks(ino: number, owner: number, kind: 'posix' | 'flock', c: Caller): Promise<void> {
    const key = `${kind}:${ino}:${owner}`;
    if (!this.held.has(key)) return;
    await this.o.meta.releaseLocks(ino, String(owner), kind, this.o.ctx(c));
    this.held.delete(key);
    this.wake(ino);
  }

  /** Unmount: waiters end with EINTR (the session's end releases the locks on the server). */
  close(): void {
    this.closed = true;
    this.unwatch?.();
    for (const ino of [...this.waiters.keys()]) this.wake(ino);
  }
}

/** Offsets past 2^53 (the kernel's OFFSET_MAX as a double) mean "to the end of the file". */
function clamp(l: RecordLock): RecordLock {
  const start = Math.min(Math.max(0, Math.trunc(l.start)), Number.MAX_SAFE_INTEGER);
  let len = Math.max(0, Math.trunc(l.len));
  if (!Number.isSafeInteger(start + len)) len = 0;
  return { type: l.type, start, len, pid: Math.max(0, l.pid | 0) };
}

/**
 * True when process (thread) `pid` has a signal pending that it does not block: the kernel has
 * asked to interrupt its request. Read from /proc (asynchronously); false when unknown.
 */
async function signalPending(pid: number | undefined): Promise<boolean> {
  if (!pid) return false;
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/status`, 'utf8');
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT'; // gone: nobody waits for the answer
  }
  const mask = (name: string): bigint => {
    const m = new RegExp(`^${name}:\\s*([0-9a-f]+)$`, 'm').exec(text);
    return m ? BigInt(`0x${m[1]}`) : 0n;
  };
  return ((mask('SigPnd') | mask('ShdPnd')) & ~mask('SigBlk')) !== 0n;
}
