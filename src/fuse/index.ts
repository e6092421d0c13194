import { resolve } from 'node:path';
import type { PosixFs } from '../vfs/types.js';
import { loadFuse, type FuseInstance } from './binding.js';
import { findFuseMount } from './mountinfo.js';
import { buildFuseOptions, type FuseMountOptions } from './options.js';
import { makeFuseOps } from './ops.js';
import { TIMEOUTS } from '../config/defaults.js';

export type { FuseMountOptions } from './options.js';
export { buildFuseOptions, DEFAULT_MAX_WRITE } from './options.js';
export { findFuseMount, readMounts, parseMountinfo } from './mountinfo.js';

export interface FuseMount {
  readonly mountpoint: string;
  /** Unmount (a lazy unmount when the mount is busy). Does not call fs.destroy(). */
  unmount(): Promise<void>;
}

/**
 * Mount `fs` at `mountpoint` through the patched fuse-native. Resolves once the kernel has sent
 * FUSE INIT (the mount is live). fs.init() runs before the mount; fs.destroy() is the caller's
 * job (flush, then unmount, or the reverse — see cli/mount).
 */
export async function mountFs(fs: PosixFs, mountpoint: string, opts: FuseMountOptions): Promise<FuseMount> {
  const Fuse = loadFuse();
  const mnt = resolve(mountpoint);
  if (await findFuseMount(mnt)) throw new Error(`${mnt} is already a FUSE mountpoint`);
  const extraOptions = buildFuseOptions(opts);
  await fs.init();

  let instance: FuseInstance | undefined;
  const ops = makeFuseOps(fs, () => instance!, opts.onError, opts.umask);
  const timeout = opts.opTimeoutMs === undefined ? TIMEOUTS.fuseOpMs : opts.opTimeoutMs || false;
  instance = new Fuse(mnt, ops, { extraOptions, timeout });
  const fuse = instance;
  await new Promise<void>((ok, fail) => fuse.mount((err) => (err ? fail(mountError(mnt, err)) : ok())));

  let unmounting: Promise<void> | undefined;
  return {
    mountpoint: mnt,
    unmount() {
      unmounting ??= new Promise<void>((ok, fail) => fuse.unmount((err) => {
        if (!err) return ok();
        // Someone unmounted it already: that is the state we wanted.
        findFuseMount(mnt).then((m) => (m ? fail(new Error(`unmount of ${mnt} failed: ${err.message}`)) : ok()), fail);
      }));
      return unmounting;
    },
  };
}

function mountError(mnt: string, err: Error): Error {
  const msg = err.message === 'Mountpoint in use' ? `${mnt} is already a mountpoint` : `mounting ${mnt} failed: ${err.message}`;
  return new Error(msg, { cause: err });
}

export { mountCore, type CoreMount, type CoreMountOptions } from './kernel-mount.js';
export { makeKernelOps } from './kernel-ops.js';
