import { FsError } from '../../errors/index.js';
import { DirBuffer } from './dirbuf.js';
import type {
  AttrReply, Entry, FuseAttr, GetattrRequest, LookupRequest, LowLevelHandlers, OpenReply, ReadRequest,
  ReaddirRequest, SetattrRequest, StatfsReply, WriteRequest,
} from './types.js';

/**
 * The null filesystem on the low-level layer, the same shape as ../shared/ref-nullfs/llnull.c
 * (bench/ref-nullfs/): `files` files f00000… in the root (inode i + 2), reads return zeros up to
 * the file's size, writes are discarded (they only grow the size). It measures what the layer
 * itself costs: `npm run bench:fuse` runs it next to the C original.
 */
export interface NullFsOptions {
  files?: number;
  /** Entry and attribute cache timeout in seconds (0: every stat is a round trip). */
  ttl?: number;
}

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const ROOT = 1;
const ZEROS = Buffer.alloc(1 << 20);

export class LowLevelNullFs implements LowLevelHandlers {
  readonly files: number;
  readonly ttl: number;
  private readonly sizes: Float64Array;
  /** Write requests seen: count, bytes, largest (the bench prints them, like llnull's destroy). */
  writes = 0;
  writeBytes = 0;
  maxWrite = 0;

  constructor(o: NullFsOptions = {}) {
    this.files = o.files ?? 10_000;
    this.ttl = o.ttl ?? 0;
    this.sizes = new Float64Array(this.files + 2);
  }

  private attr(ino: number): FuseAttr {
    if (ino === ROOT) return { ino, mode: S_IFDIR | 0o755, nlink: 2, uid: 0, gid: 0, size: 0, atime: 0n, mtime: 0n, ctime: 0n };
    if (ino < 2 || ino >= this.files + 2) throw new FsError('ENOENT', `inode ${ino}`);
    return { ino, mode: S_IFREG | 0o644, nlink: 1, uid: 0, gid: 0, size: this.sizes[ino], atime: 0n, mtime: 0n, ctime: 0n };
  }

  private entry(ino: number): Entry {
    return { ino, attr: this.attr(ino), attrTimeout: this.ttl, entryTimeout: this.ttl };
  }

  lookup(req: LookupRequest): Entry {
    const m = /^f(\d{5,})$/.exec(req.name);
    const i = m ? Number(m[1]) : -1;
    if (req.ino !== ROOT || i < 0 || i >= this.files) throw new FsError('ENOENT', req.name);
    return this.entry(i + 2);
  }

  getattr(req: GetattrRequest): AttrReply { return { attr: this.attr(req.ino), timeout: this.ttl }; }

  setattr(req: SetattrRequest): AttrReply {
    if (req.size !== undefined && req.ino !== ROOT) this.sizes[req.ino] = req.size;
    return { attr: this.attr(req.ino), timeout: this.ttl };
  }

  private dir(req: ReaddirRequest, plus: boolean): DirBuffer {
    if (req.ino !== ROOT) throw new FsError('ENOTDIR', `inode ${req.ino}`);
    const out = new DirBuffer(req.size, plus);
    for (let i = req.offset; i < this.files; i++) {
      if (!out.add(`f${String(i).padStart(5, '0')}`, this.entry(i + 2), i + 1)) break;
    }
    return out;
  }

  readdir(req: ReaddirRequest): DirBuffer { return this.dir(req, false); }
  readdirplus(req: ReaddirRequest): DirBuffer { return this.dir(req, true); }

  open(): OpenReply { return { fh: 0, keepCache: true }; }

  read(req: ReadRequest): Uint8Array {
    const size = this.sizes[req.ino] ?? 0;
    const n = Math.max(0, Math.min(req.size, size - req.offset, ZEROS.length));
    return ZEROS.subarray(0, n);
  }

  write(req: WriteRequest): number {
    const n = req.data.length;
    this.writes++;
    this.writeBytes += n;
    if (n > this.maxWrite) this.maxWrite = n;
    if (req.offset + n > this.sizes[req.ino]) this.sizes[req.ino] = req.offset + n;
    return n;
  }

  statfs(): StatfsReply {
    return { bsize: 4096, blocks: 0, bfree: 0, files: this.files + 1, ffree: 0, namemax: 255 };
  }
}
