import type { PosixFs } from './types.js';
import type { FileSystemOptions } from './options.js';
import { FlexFileSystem } from './filesystem.js';

export type { Caller, PosixFs } from './types.js';
export type { FileSystemOptions } from './options.js';
export { VFS_DEFAULTS } from './options.js';
export { FlexFileSystem } from './filesystem.js';
export { MAX_FILE_SIZE } from './openfile.js';

/** The mount client's POSIX core over a volume's MetaStore and block store (no kernel involved). */
export function createFileSystem(opts: FileSystemOptions): PosixFs {
  return new FlexFileSystem(opts);
}
