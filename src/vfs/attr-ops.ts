import { constants as fsc } from 'node:fs';
import { FsError } from '../errors/index.js';
import type { Attr, MetaStore, OpContext, SetAttrChanges } from '../meta/types.js';
import { S_ISGID, S_ISUID } from '../util/mode.js';
import type { AclStore } from './acl-store.js';
import type { FileHandle } from './handles.js';
import type { MetaCache } from './meta-cache.js';
import type { OpenFiles } from './open-files.js';
import { privBitsToDrop, W_OK, type AccessPolicy } from './permissions.js';
import type { AttrChanges, Caller } from './types.js';

const O_ACCMODE = 3;

export interface AttrOpsDeps {
  meta: MetaStore;
  cache: MetaCache;
  policy: AccessPolicy;
  acls: AclStore;
  files: OpenFiles;
  metaCall: <T>(what: string, fn: () => Promise<T>) => Promise<T>;
  ctx(c: Caller, mutation?: boolean): OpContext;
  /** Throws EROFS on a read-only mount. */
  writable(): void;
  /** The core's getattr (an unlinked file open through `fh` still answers). */
  getattr(ino: number, c: Caller, fh?: number): Promise<Attr>;
  /** The file handle `fh` names, if any. */
  fileOf(fh: number | undefined): FileHandle | undefined;
}

/**
 * setattr as FUSE sends it (chmod, chown, truncate, utimens in libfuse's order), the one
 * metadata setattr the core and its parts share (caches and the open-file state take the
 * answer), and clearing setuid/setgid after an unprivileged write or truncate. FsCore delegates.
 */
export class AttrOps {
  constructor(private readonly d: AttrOpsDeps) {}

  /** One setattr at the metadata server; caches and the open-file state take the answer. */
  async setMeta(ino: number, changes: SetAttrChanges, c: Caller): Promise<Attr> {
    const attr = await this.d.metaCall('setattr', () => this.d.meta.setattr(ino, changes, this.d.ctx(c, true)));
    this.d.cache.putAttr(attr);
    this.d.files.refresh(attr);
    return attr;
  }

  /**
   * chmod, chown, truncate and utimens as one FUSE setattr, in libfuse's order. The kernel sends
   * a truncate by an unprivileged writer with the mode that drops setuid/setgid (accepted from a
   * writer by chmodPerm) and with mtime "now", which the truncate sets itself.
   */
  async setattr(ino: number, ch: AttrChanges, c: Caller, fh?: number): Promise<Attr> {
    this.d.writable();
    const h = this.d.fileOf(fh);
    let attr = await this.d.getattr(ino, c, fh);
    if (ch.mode !== undefined) {
      const perm = await this.d.policy.chmodPerm(attr, ch.mode, c);
      attr = await this.setMeta(attr.ino, { mode: perm }, c);
      await this.d.acls.afterChmod(attr, c);
    }
    if (ch.uid !== undefined || ch.gid !== undefined) attr = await this.chown(attr, ch.uid, ch.gid, c);
    let { atime, mtime } = ch;
    if (ch.size !== undefined) {
      attr = await this.truncate(attr, ch.size, h, c);
      if (atime === 'now') atime = undefined;
      if (mtime === 'now') mtime = undefined;
    }
    if (atime !== undefined || mtime !== undefined) attr = await this.utimens(attr, atime, mtime, c, !!ch.kernelTimes);
    return this.d.files.present(attr);
  }

  private async truncate(attr: Attr, size: number, h: FileHandle | undefined, c: Caller): Promise<Attr> {
    if (attr.type === 'dir') throw new FsError('EISDIR');
    if (attr.type !== 'file') throw new FsError('EINVAL', 'not a regular file');
    // ftruncate needs a handle open for writing (the kernel checks that); otherwise write permission.
    if (!h || (h.flags & O_ACCMODE) === fsc.O_RDONLY) await this.d.policy.need(attr, W_OK, c);
    return this.d.files.truncate(attr, size, c);
  }

  private async chown(attr: Attr, uid: number | undefined, gid: number | undefined, c: Caller): Promise<Attr> {
    const ids = await this.d.policy.chownIds(attr, uid, gid, c);
    const changes: SetAttrChanges = {};
    if (ids.uid !== undefined) changes.uid = ids.uid;
    if (ids.gid !== undefined) changes.gid = ids.gid;
    // Changing ownership of a non-directory clears setuid, and setgid when group-executable.
    if (attr.type !== 'dir' && (ids.uid !== undefined || ids.gid !== undefined)) {
      const kill = (attr.mode & S_ISUID) | ((attr.mode & S_ISGID) && (attr.mode & 0o010) ? S_ISGID : 0);
      if (kill) changes.mode = attr.mode & 0o7777 & ~kill;
    }
    return this.setMeta(attr.ino, changes, c);
  }

  /** `kernelTimes`: the kernel's own times (writeback cache), for a writer it already let write: no owner check. */
  private async utimens(attr: Attr, atime: bigint | 'now' | undefined, mtime: bigint | 'now' | undefined, c: Caller, kernelTimes: boolean): Promise<Attr> {
    if (!kernelTimes) await this.d.policy.checkTimes(attr, atime, mtime, c);
    const changes: SetAttrChanges = {};
    if (atime !== undefined) changes.atime = atime;
    if (mtime !== undefined) changes.mtime = mtime;
    // Pending writes would commit their own mtime later (cp -p writes, sets times, closes).
    const f = this.d.files.get(attr.ino);
    if (f && mtime !== undefined) await f.flush();
    return this.setMeta(attr.ino, changes, c);
  }

  /** A write or truncate by an unprivileged caller clears setuid/setgid (privBitsToDrop). */
  async killPriv(attr: Attr, c: Caller): Promise<Attr | undefined> {
    if (c.uid === 0) return undefined;
    const kill = await privBitsToDrop(attr, c, this.d.policy.groups);
    return kill ? this.setMeta(attr.ino, { mode: attr.mode & 0o7777 & ~kill }, { uid: 0, gid: 0, pid: 0 }) : undefined;
  }
}
