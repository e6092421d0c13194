import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Where a DiskFrameCache keeps its files. The cache logic (quota, LRU, restart, modes) is one;
 * the two on-disk layouts are the ones mounts and proxies already have in the field, kept
 * unchanged so an upgrade finds its cache where it left it. Every frame lives at
 * `<framesDir>/<2 hex fan-out>/<file>`.
 */
export interface FrameLayout {
  /** The folder holding the fan-out folders. */
  framesDir(folder: string): string;
  /** The file name of a key's frame. */
  fileName(key: string): string;
  /** The fan-out folder (two hex digits) of a file name. */
  fanOut(file: string): string;
  /** Where a frame is written before it is renamed to `finalPath`. */
  tmpPath(folder: string, finalPath: string, file: string): string;
  /** Called once at open, before the scan (e.g. clear and create a temporary folder). */
  prepare(folder: string): Promise<void>;
  /** Whether a file found by the scan in fan-out folder `dir` is a frame, an interrupted write
   *  (deleted), or something else (left alone). */
  classify(dir: string, file: string): 'frame' | 'leftover' | 'other';
}

/**
 * The mount's layout: `<folder>/<fnv fan-out>/<key>` (keys are file-name-safe, see
 * frameCacheName), written next to the frame as `<key>.<hex>.tmp`.
 */
export const namedLayout: FrameLayout = {
  framesDir: (folder) => folder,
  fileName: (key) => key,
  fanOut: fnvFanOut,
  tmpPath: (_folder, finalPath) => `${finalPath}.${randomBytes(4).toString('hex')}.tmp`,
  prepare: async () => undefined,
  classify: (_dir, file) => (file.endsWith('.tmp') ? 'leftover' : 'frame'),
};

/**
 * The proxy's layout (docs/PROXY.md): `<folder>/blocks/<hh>/<sha256(key)>` (any key is a safe
 * name), written to `<folder>/tmp/` first; `tmp/` is wiped at open.
 */
export const hashedLayout: FrameLayout = {
  framesDir: (folder) => join(folder, 'blocks'),
  fileName: (key) => createHash('sha256').update(key).digest('hex'),
  fanOut: (file) => file.slice(0, 2),
  tmpPath: (folder, _finalPath, file) => join(folder, 'tmp', `${file}.${randomBytes(6).toString('hex')}`),
  prepare: async (folder) => {
    await rm(join(folder, 'tmp'), { recursive: true, force: true });
    await mkdir(join(folder, 'tmp'), { recursive: true, mode: 0o700 });
  },
  classify: (dir, file) => (/^[0-9a-f]{64}$/.test(file) && file.startsWith(dir) ? 'frame' : 'other'),
};

/** Two hex digits spreading names over 256 folders (FNV-1a of the name). */
function fnvFanOut(name: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return ((h >>> 0) & 0xff).toString(16).padStart(2, '0');
}

/** A file-name-safe cache name for one block of one volume. */
export function frameCacheName(volumeId: string, blockId: number): string {
  return `${volumeId.replace(/[^A-Za-z0-9_-]/g, '_')}-${blockId}`;
}
