import { posix } from 'node:path';
import { toErrno } from '../errors/index.js';
import type { Caller, PosixFs } from '../vfs/types.js';
import type { FuseInstance, FuseOps } from './binding.js';
import { attrToStat, DIR_ENTRY_STAT, statfsToFuse } from './stat.js';

/** chown(2) passes (uid_t)-1 for "leave unchanged"; it reaches us as an unsigned 32-bit value. */
const UNCHANGED_ID = 0xffffffff;

type Reply = (...args: unknown[]) => void;

/**
 * The fuse-native operation table over a PosixFs. fuse-native's convention: the callback's first
 * argument is 0 or a negative errno; for read/write it is the byte count (or negative errno).
 * Every handler reads the caller synchronously at entry (the context is per dispatched op).
 */
export function makeFuseOps(fs: PosixFs, fuse: () => FuseInstance,
  onError?: (op: string, path: string, err: unknown) => void, umask = 0): FuseOps {
  const toStat = (a: Parameters<typeof attrToStat>[0]) => attrToStat(a, umask);
  const caller = (): Caller => {
    const c = fuse().getContext();
    return { uid: c.uid, gid: c.gid, pid: c.pid };
  };
  const fail = (op: string, path: string, cb: Reply, e: unknown): void => {
    onError?.(op, path, e);
    cb(-toErrno(e));
  };
  /** An op whose promise resolves to nothing useful: answer 0. */
  const done = (op: string, path: string, cb: Reply, p: Promise<unknown>): void => {
    p.then(() => cb(0), (e) => fail(op, path, cb, e));
  };

  return {
    init(cb: Reply) { cb(0); },

    getattr(path: string, cb: Reply) {
      fs.getattr(path, caller()).then((a) => cb(0, toStat(a)), (e) => fail('getattr', path, cb, e));
    },
    fgetattr(path: string, fh: number, cb: Reply) {
      fs.fgetattr(path, fh, caller()).then((a) => cb(0, toStat(a)), (e) => fail('fgetattr', path, cb, e));
    },
    access(path: string, mode: number, cb: Reply) { done('access', path, cb, fs.access(path, mode, caller())); },
    statfs(path: string, cb: Reply) {
      fs.statfs(path, caller()).then((s) => cb(0, statfsToFuse(s)), (e) => fail('statfs', path, cb, e));
    },

    opendir(path: string, flags: number, cb: Reply) {
      fs.opendir(path, flags, caller()).then((fh) => cb(0, fh), (e) => fail('opendir', path, cb, e));
    },
    readdir(path: string, cb: Reply) {
      const who = caller();
      const parent = posix.dirname(path);
      // "." and ".." carry real inode numbers (use_ino); the entries come with their attributes.
      Promise.all([fs.readdir(path, who), fs.getattr(path, who), fs.getattr(parent, who).catch(() => undefined)])
        .then(([entries, self, up]) => {
          const names = ['.', '..'];
          const stats = [{ ...DIR_ENTRY_STAT, ino: self.ino }, { ...DIR_ENTRY_STAT, ino: up?.ino ?? self.ino }];
          for (const e of entries) {
            names.push(e.name);
            stats.push(toStat(e.attr));
          }
          cb(0, names, stats);
        }, (e) => fail('readdir', path, cb, e));
    },
    releasedir(path: string, fh: number, cb: Reply) { done('releasedir', path, cb, fs.releasedir(path, fh, caller())); },
    fsyncdir(path: string, fh: number, datasync: number, cb: Reply) {
      done('fsyncdir', path, cb, fs.fsyncdir(path, fh, !!datasync, caller()));
    },

    mkdir(path: string, mode: number, cb: Reply) { done('mkdir', path, cb, fs.mkdir(path, mode, caller())); },
    rmdir(path: string, cb: Reply) { done('rmdir', path, cb, fs.rmdir(path, caller())); },
    mknod(path: string, mode: number, rdev: number, cb: Reply) { done('mknod', path, cb, fs.mknod(path, mode, rdev, caller())); },
    create(path: string, mode: number, flags: number, cb: Reply) {
      fs.create(path, mode, flags, caller()).then((fh) => cb(0, fh), (e) => fail('create', path, cb, e));
    },
    open(path: string, flags: number, cb: Reply) {
      fs.open(path, flags, caller()).then((fh) => cb(0, fh), (e) => fail('open', path, cb, e));
    },
    // buf is fuse-native's external buffer over the kernel request: valid only until cb.
    read(path: string, fh: number, buf: Buffer, length: number, position: number, cb: Reply) {
      fs.read(path, fh, buf, length, position, caller()).then((n) => cb(n), (e) => fail('read', path, cb, e));
    },
    write(path: string, fh: number, buf: Buffer, length: number, position: number, cb: Reply) {
      fs.write(path, fh, buf, length, position, caller()).then((n) => cb(n), (e) => fail('write', path, cb, e));
    },
    flush(path: string, fh: number, cb: Reply) { done('flush', path, cb, fs.flush(path, fh, caller())); },
    fsync(path: string, fh: number, datasync: number, cb: Reply) {
      done('fsync', path, cb, fs.fsync(path, fh, !!datasync, caller()));
    },
    release(path: string, fh: number, cb: Reply) { done('release', path, cb, fs.release(path, fh, caller())); },
    truncate(path: string, size: number, cb: Reply) { done('truncate', path, cb, fs.truncate(path, size, caller())); },
    ftruncate(path: string, fh: number, size: number, cb: Reply) {
      done('ftruncate', path, cb, fs.ftruncate(path, fh, size, caller()));
    },

    unlink(path: string, cb: Reply) { done('unlink', path, cb, fs.unlink(path, caller())); },
    rename(src: string, dest: string, cb: Reply) { done('rename', src, cb, fs.rename(src, dest, caller())); },
    // FUSE link(existing, new) and symlink(target, linkpath).
    link(existing: string, path: string, cb: Reply) { done('link', path, cb, fs.link(existing, path, caller())); },
    symlink(target: string, path: string, cb: Reply) { done('symlink', path, cb, fs.symlink(target, path, caller())); },
    readlink(path: string, cb: Reply) {
      fs.readlink(path, caller()).then((t) => cb(0, t), (e) => fail('readlink', path, cb, e));
    },

    chmod(path: string, mode: number, cb: Reply) { done('chmod', path, cb, fs.chmod(path, mode, caller())); },
    chown(path: string, uid: number, gid: number, cb: Reply) {
      // -1 (unchanged) is passed on as -1.
      const u = uid === UNCHANGED_ID ? -1 : uid;
      const g = gid === UNCHANGED_ID ? -1 : gid;
      done('chown', path, cb, fs.chown(path, u, g, caller()));
    },
    utimens(path: string, atime: bigint | 'now' | undefined, mtime: bigint | 'now' | undefined, cb: Reply) {
      done('utimens', path, cb, fs.utimens(path, atime, mtime, caller()));
    },

    setxattr(path: string, name: string, value: Buffer, _position: number, flags: number, cb: Reply) {
      // value points into the FUSE request: copy before going async.
      done('setxattr', path, cb, fs.setxattr(path, name, Buffer.from(value), flags, caller()));
    },
    // fuse-native answers a size probe (buffer size 0) with the length and ERANGE when too small.
    getxattr(path: string, name: string, _position: number, cb: Reply) {
      fs.getxattr(path, name, caller()).then((v) => cb(0, v), (e) => fail('getxattr', path, cb, e));
    },
    listxattr(path: string, cb: Reply) {
      fs.listxattr(path, caller()).then((l) => cb(0, l), (e) => fail('listxattr', path, cb, e));
    },
    removexattr(path: string, name: string, cb: Reply) {
      done('removexattr', path, cb, fs.removexattr(path, name, caller()));
    },
  };
}
