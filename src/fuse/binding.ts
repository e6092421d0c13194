import { createRequire } from 'node:module';

/**
 * The patched fuse-native (patches/fuse-native-2.2.6.patch), typed for what src/fuse uses.
 * Loaded through require because fuse-native is CommonJS without types. This file and the rest of
 * src/fuse/ are the only places that touch fuse-native.
 */
export type FuseCallback = (...args: unknown[]) => void;
export type FuseOps = Record<string, (...args: any[]) => void>;

export interface FuseInstance {
  mnt: string;
  mount(cb: (err: Error | null) => void): void;
  unmount(cb: (err: Error | null) => void): void;
  /** Caller of the op being dispatched; valid only synchronously at op entry (patch). */
  getContext(): { uid: number; gid: number; pid: number };
}

export interface FuseConstructorOptions {
  extraOptions?: string[];
  timeout?: number | false;
  debug?: boolean;
  force?: boolean;
  mkdir?: boolean;
}

export interface FuseClass {
  new (mnt: string, ops: FuseOps, opts?: FuseConstructorOptions): FuseInstance;
  FLEXFS_PATCH_LEVEL: number;
  unmount(mnt: string, cb: (err: Error | null) => void): void;
}

/** Lowest patch level with everything src/fuse relies on (caller context, ns times, extraOptions). */
export const REQUIRED_PATCH_LEVEL = 2;

let cached: FuseClass | undefined;

/** The fuse-native class; throws a clear error when the stock (unpatched) binding is loaded. */
export function loadFuse(): FuseClass {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const Fuse = require('fuse-native') as FuseClass;
  if (!(Fuse.FLEXFS_PATCH_LEVEL >= REQUIRED_PATCH_LEVEL)) {
    throw new Error('fuse-native is not patched for flexfs (run: node scripts/patch-fuse-native.mjs)');
  }
  cached = Fuse;
  return Fuse;
}
