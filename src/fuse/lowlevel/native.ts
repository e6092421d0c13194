import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The compiled addon (src/fuse/native/flexfs_fuse.cc → build/Release/flexfs_fuse.node, built by
 * `npm ci` through scripts/build-fuse-addon.mjs). Its shape, as the session uses it.
 */
export interface NativeSession {
  mount(mountpoint: string, options: NativeMountOptions): void;
  unmount(): Promise<void>;
  connInfo(): NativeConnInfo | null;
  pendingCount(): number;
  replyErr(id: number, errno: number): boolean;
  replyEntry(id: number, entry: object): boolean;
  replyCreate(id: number, entryAndOpen: object): boolean;
  replyAttr(id: number, attr: object, timeout: number): boolean;
  replyReadlink(id: number, target: string): boolean;
  replyOpen(id: number, open: object): boolean;
  replyWrite(id: number, count: number): boolean;
  replyBuf(id: number, data: Uint8Array): boolean;
  replyXattr(id: number, size: number): boolean;
  replyStatfs(id: number, statfs: object): boolean;
  replyLseek(id: number, offset: number): boolean;
  replyLock(id: number, lock: object): boolean;
  notifyInvalInode(ino: number, offset: number, length: number): Promise<number>;
  notifyInvalEntry(parent: number, name: string): Promise<number>;
  notifyDelete(parent: number, child: number, name: string): Promise<number>;
}

export interface NativeMountOptions {
  args: string[];
  ops: number[];
  groupsOps: number[];
  maxWrite: number;
  readdirplus: 0 | 1 | 2;
  writebackCache: boolean;
  posixAcl: boolean;
  dontMask: boolean;
  atomicOTrunc: boolean;
  handleKillpriv: boolean;
  deadlineMs: number;
  maxThreads: number;
  inline: boolean;
}

export interface NativeConnInfo {
  protoMajor: number; protoMinor: number;
  maxWrite: number; maxRead: number; maxReadahead: number;
  capable: number; want: number;
}

/** One queued item from the addon: a request (has `op`) or a session event (has `event`). */
export type NativeEvent = ({ op: number; id: number } & Record<string, unknown>) | { event: 'init' | 'loopExit'; result?: number };

export interface NativeAddon {
  Session: new (dispatch: (events: NativeEvent[]) => void) => NativeSession;
  OP_NAMES: string[];
  FUSE_VERSION: number;
}

/** The repository root: the nearest folder up from here that has binding.gyp. */
function addonPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'binding.gyp'))) return join(dir, 'build', 'Release', 'flexfs_fuse.node');
    const up = dirname(dir);
    if (up === dir) throw new Error('flexfs FUSE addon: binding.gyp not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

let loaded: NativeAddon | undefined;

export function loadAddon(): NativeAddon {
  if (loaded) return loaded;
  const path = addonPath();
  if (!existsSync(path)) {
    throw new Error(`flexfs FUSE addon missing at ${path}: run \`node scripts/build-fuse-addon.mjs\` (needs libfuse3-dev, g++, make, python3, pkg-config)`);
  }
  loaded = createRequire(import.meta.url)(path) as NativeAddon;
  return loaded;
}
