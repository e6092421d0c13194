import type { ObjectStore } from '../store/types.js';
import type { BlockCodec } from '../codec/types.js';
import type { MetaStore, VolumeSettings } from '../meta/types.js';
import type { RecoverySink } from '../recovery/types.js';

/** What createFileSystem needs. Sizes are bytes, times milliseconds. */
export interface FileSystemOptions {
  meta: MetaStore;
  store: ObjectStore;
  codec: BlockCodec;
  settings: VolumeSettings;
  /** Memory block cache size (default 5% of RAM, 64 MiB … 1 GiB). */
  memCapacity?: number;
  /** Folder of the optional disk cache of stored frames. */
  diskFolder?: string;
  /** Disk cache quota (default 1 GiB when diskFolder is set). */
  diskQuota?: number;
  readOnly?: boolean;
  noAtime?: boolean;
  /** Mount session id: open-file holds belong to it. */
  sessionId?: string;
  /** A blocked F_SETLKW/flock retries at least this often (default LOCK_DEFAULTS.retryMs; vfs/locks.ts). */
  lockRetryMs?: number;
  /** Global budget of dirty (not yet uploaded) bytes; writers wait beyond it (default 256 MiB). */
  dirtyBytes?: number;
  /**
   * TTL of the entry and attribute caches (default 1000 ms; 0 disables them); `attrTtlHeardMs`
   * instead while the metadata store hears other sessions' changes (MetaStore.hearsChanges: they
   * are dropped at once, so the cache may trust longer; default attrTtlMs).
   */
  attrTtlMs?: number;
  attrTtlHeardMs?: number;
  /** Deadline for one block PUT including retries (default 60 s). */
  putDeadlineMs?: number;
  /** Deadline for one block GET including retries (default 60 s). */
  getDeadlineMs?: number;
  /** Deadline for one metadata call (default 60 s). */
  metaDeadlineMs?: number;
  /** Largest readahead window for sequential readers (default 8 blocks, at most 64 MiB; below one block: off). */
  readaheadMax?: number;
  /** Check permissions in the VFS too (the kernel does with default_permissions). Default true. */
  checkPermissions?: boolean;
  /** POSIX ACLs (`system.posix_acl_*`, mount flag --acl). Default true; off: those names are EOPNOTSUPP. */
  acl?: boolean;
  /**
   * Where unmount (destroy) saves dirty data it could not upload or commit by the deadline; it then
   * rejects with UnflushedDataError naming it. Without one, such data is lost (still an error).
   */
  recovery?: RecoverySink;
  /** Permission bits the mount hides from stat (--umask); permission checks use the mode as reported. */
  umask?: number;
}

export { VFS_DEFAULTS } from '../config/defaults.js';
