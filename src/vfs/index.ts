import type { FileSystemOptions } from './options.js';
import { FsCore } from './core.js';
import { FlexFileSystem } from './path-fs.js';

export type { AttrChanges, Caller, InodeFs, OpenResult, PosixFs } from './types.js';
export { RENAME_EXCHANGE, RENAME_NOREPLACE } from './types.js';
export type { FileSystemOptions } from './options.js';
export { VFS_DEFAULTS } from './options.js';
export { FsCore } from './core.js';
export { buildCoreParts, type CoreParts } from './parts.js';
export { FlexFileSystem } from './path-fs.js';
export { MAX_FILE_SIZE } from './openfile.js';

/** The mount client's POSIX core over a volume's MetaStore and block store, with its path layer. */
export function createFileSystem(opts: FileSystemOptions): FlexFileSystem {
  return new FlexFileSystem(new FsCore(opts));
}
