import type { IdPairValue } from '../config/identity.js';
import type { Caller, InodeFs } from './types.js';

/**
 * Root squash and all squash on a mount (`--rootSquash uid:gid`, `--allSquash uid:gid`, fstab
 * `rootSquash=` / `allSquash=`): the caller of every request the kernel sends is rewritten before
 * the core sees it, so permission checks, new files' owners and the metadata server all see the
 * squashed identity (no supplementary groups). rootSquash maps callers with uid 0, allSquash
 * every caller. A token's squash is the server's and applies on top (docs/SEMANTICS.md).
 */
export interface SquashOptions {
  rootSquash?: IdPairValue;
  allSquash?: IdPairValue;
}

/** The caller as the core must see it (the same object when no squash applies). */
export function squashCaller(c: Caller, o: SquashOptions): Caller {
  const to = o.allSquash ?? (c.uid === 0 ? o.rootSquash : undefined);
  if (!to) return c;
  // the request object stays underneath (pid, umask…); only the identity is replaced
  return Object.assign(Object.create(c) as Caller, { uid: to.uid, gid: to.gid, groups: [] as number[] });
}

/** Index of the Caller parameter of an InodeFs method (as the tuple key TypeScript gives it). */
type CallerAt<F> = F extends (...a: infer P) => unknown ? { [I in keyof P]: P[I] extends Caller ? I : never }[number] : never;
/** Every InodeFs method that takes a caller, with where: a method missing here does not compile. */
type CallerTable = { [K in keyof InodeFs as [CallerAt<InodeFs[K]>] extends [never] ? never : K]: CallerAt<InodeFs[K]> };

const CALLER_ARG: CallerTable = {
  lookup: '2', getattr: '1', setattr: '2', access: '2', statfs: '0', readlink: '1',
  mknod: '4', mkdir: '3', symlink: '3', link: '3', unlink: '2', rmdir: '2', rename: '5',
  open: '2', create: '4', read: '3', write: '3', flush: '1', fsync: '2', release: '1',
  getlk: '4', setlk: '5', flock: '4', fallocate: '5', lseek: '4',
  opendir: '2', readdir: '2', releasedir: '1', fsyncdir: '2',
  setxattr: '4', getxattr: '2', listxattr: '1', removexattr: '2',
};

/** `fs` with every request's caller squashed; `fs` itself when no squash is asked for. */
export function withSquash<T extends InodeFs>(fs: T, o: SquashOptions): T {
  if (!o.rootSquash && !o.allSquash) return fs;
  const out = Object.create(fs) as T;
  // every other method runs on `fs` itself (a method run on `out` would set its fields on `out`)
  for (const op of Object.getOwnPropertyNames(Object.getPrototypeOf(fs)).concat(Object.keys(fs))) {
    const fn = (fs as unknown as Record<string, unknown>)[op];
    if (op !== 'constructor' && typeof fn === 'function') (out as unknown as Record<string, unknown>)[op] = fn.bind(fs);
  }
  for (const [op, at] of Object.entries(CALLER_ARG) as Array<[keyof InodeFs, string]>) {
    const fn = fs[op] as unknown as (...a: unknown[]) => unknown;
    const i = Number(at);
    (out as unknown as Record<string, unknown>)[op] = (...args: unknown[]) => {
      if (args[i]) args[i] = squashCaller(args[i] as Caller, o);
      return fn.apply(fs, args);
    };
  }
  return out;
}
