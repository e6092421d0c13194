import type { Changes } from '../meta/types.js';
import type { AclStore } from './acl-store.js';
import type { MetaCache } from './meta-cache.js';
import type { Xattrs } from './xattrs.js';

/**
 * Coherent caching, the mount's side: what another mount changed (pushed by meta.flexfs, see
 * MetaStore.watch) is dropped from every metadata cache of this mount, before the FUSE layer
 * tells the kernel (it subscribes after the core, so the kernel's next lookup finds nothing
 * stale here). `null`: changes may have been missed (a reconnect), every cache is emptied.
 */
export function dropOthersChanges(caches: { meta: MetaCache; xattrs: Xattrs; acls: AclStore }, changes: Changes | null): void {
  caches.meta.othersChanged(changes);
  if (!changes) {
    caches.xattrs.clear();
    caches.acls.clear();
    return;
  }
  for (const ino of changes.a) {
    caches.xattrs.forget(ino);
    caches.acls.forget(ino);
  }
}
