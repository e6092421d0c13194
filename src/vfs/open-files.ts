import { constants as fsc } from 'node:fs';
import { FILE_PREFETCH_DEFAULTS } from '../config/defaults.js';
import { FsError } from '../errors/index.js';
import type { Attr, BlockRef, MetaStore, OpContext } from '../meta/types.js';
import type { Caller, OpenResult } from './types.js';
import type { BlockIO } from './blockio.js';
import type { BlockIdAllocator } from './ids.js';
import type { DirtyBudget } from './budget.js';
import type { MetaCache } from './meta-cache.js';
import { MAX_FILE_SIZE, OpenFile } from './openfile.js';
import { HandleTable, type FileHandle } from './handles.js';
import { ReadaheadDetector } from './readahead.js';
import type { RecoverySink } from '../recovery/types.js';

const O_ACCMODE = 3;
const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const FALLOC_FL_KEEP_SIZE = 0x01;
const FALLOC_FL_PUNCH_HOLE = 0x02;
const FALLOC_FL_ZERO_RANGE = 0x10;
const DAY_NS = 86_400n * 1_000_000_000n;
/** Inodes whose last-open data version is remembered for keep_cache (bounded). */
const VERSIONS_MAX = 100_000;

export interface OpenFilesDeps {
  meta: MetaStore;
  io: BlockIO;
  ids: BlockIdAllocator;
  budget: DirtyBudget;
  cache: MetaCache;
  handles: HandleTable;
  blockSize: number;
  readaheadMax: number;
  /** How long a writer may wait for dirty budget (the block PUT deadline). */
  budgetDeadlineMs: number;
  noAtime: boolean;
  readOnly: boolean;
  sessionId?: string;
  metaCall: <T>(what: string, fn: () => Promise<T>) => Promise<T>;
  ctx(c: Caller, mutation?: boolean): OpContext;
  /** Where unmount saves what it could not upload or commit (none: such data is lost, with an error). */
  recovery?: RecoverySink;
  /** Clear the setuid/setgid bits a write or truncate by `c` clears; the new attributes if any changed. */
  killPriv(attr: Attr, c: Caller): Promise<Attr | undefined>;
}

/**
 * The open-file side of the core: one OpenFile per inode with open handles or unflushed data
 * (shared by every handle of it), the data path of file handles (read with readahead, write,
 * flush, release) and truncate, the keep-cache decision at open, relatime.
 */
export class OpenFiles {
  private readonly files = new Map<number, OpenFile>();
  /** ino → its data version ("mtime:ctime:size") when this mount last opened it (keep_cache decision). */
  private readonly versions = new Map<number, string>();
  /** Block maps fetched ahead of an open (FilePrefetch), by ino, with the file version they belong to. */
  private readonly mapsAhead = new Map<number, { version: string; refs: BlockRef[] }>();

  constructor(private readonly d: OpenFilesDeps) {}

  /** The open state of `ino`, if any. */
  get(ino: number): OpenFile | undefined {
    return this.files.get(ino);
  }

  /** Attributes with any local (unflushed) size/mtime laid over. */
  present(attr: Attr): Attr {
    const f = this.files.get(attr.ino);
    return f ? f.view(attr) : attr;
  }

  private openFile(attr: Attr): OpenFile {
    let f = this.files.get(attr.ino);
    if (!f) {
      const d = this.d;
      f = new OpenFile(attr.ino, attr, {
        meta: d.meta, io: d.io, ids: d.ids, budget: d.budget, blockSize: d.blockSize, metaCall: d.metaCall,
        budgetDeadlineMs: d.budgetDeadlineMs, onAttr: (a) => d.cache.putAttr(a),
      }, () => ({ uid: 0, gid: 0, sessionId: d.sessionId }));
      this.files.set(attr.ino, f);
    }
    return f;
  }

  /** Forget an open-file state nobody uses and that has nothing left to write. */
  private maybeDrop(f: OpenFile): void {
    if (f.handles === 0 && !f.isDirty && this.files.get(f.ino) === f) this.files.delete(f.ino);
  }

  /** Take the metadata server's attributes into the open state (setattr answers). */
  refresh(attr: Attr): void {
    this.files.get(attr.ino)?.refresh(attr);
  }

  private addHandle(attr: Attr, flags: number): FileHandle {
    const file = this.openFile(attr);
    file.refresh(attr);
    file.handles++;
    return this.d.handles.addFile(attr.ino, flags, file, new ReadaheadDetector(this.d.blockSize, this.d.readaheadMax),
      (flags & O_ACCMODE) !== fsc.O_WRONLY);
  }

  /**
   * The complete block map of `attr`'s file as fetched ahead of its open: the open uses it if the
   * file's version is still `attr`'s (nothing committed since), saving the first read a round trip.
   */
  mapAhead(attr: Attr, refs: BlockRef[]): void {
    if (this.mapsAhead.size >= FILE_PREFETCH_DEFAULTS.mapsKept) this.mapsAhead.delete(this.mapsAhead.keys().next().value as number);
    this.mapsAhead.set(attr.ino, { version: version(attr), refs });
  }

  /** A handle on an inode the metadata server just opened (`fresh`: its answer); O_TRUNC applied. */
  async opened(fresh: Attr, flags: number): Promise<OpenResult> {
    const h = this.addHandle(fresh, flags);
    const ahead = this.mapsAhead.get(fresh.ino);
    if (ahead) {
      this.mapsAhead.delete(fresh.ino);
      if (ahead.version === version(fresh)) h.file.seedMap(ahead.refs);
    }
    if ((flags & fsc.O_TRUNC) && fresh.type === 'file' && h.file.size > 0) this.d.cache.putAttr(await h.file.truncate(0));
    return { fh: h.fh, keepCache: this.sameVersion(this.present(fresh)) };
  }

  /** A handle on a file just created (nothing cached of it yet). */
  created(attr: Attr, flags: number): OpenResult {
    const h = this.addHandle(attr, flags);
    this.sameVersion(attr);
    return { fh: h.fh, keepCache: false };
  }

  /** Whether the data is what it was at this mount's last open of the inode (and remember it). */
  private sameVersion(attr: Attr): boolean {
    const v = version(attr);
    const same = this.versions.get(attr.ino) === v;
    if (!same) {
      if (this.versions.size >= VERSIONS_MAX) this.versions.clear();
      this.versions.set(attr.ino, v);
    }
    return same;
  }

  /** relatime: bump atime on a handle's first read when it is older than mtime or a day old (ctime stays). */
  private touchAtime(attr: Attr, c: Caller): void {
    if (this.d.noAtime || this.d.readOnly || attr.type !== 'file') return;
    const now = BigInt(Date.now()) * 1_000_000n;
    if (attr.atime > attr.mtime && now - attr.atime < DAY_NS) return;
    this.d.metaCall('setattr', () => this.d.meta.setattr(attr.ino, { atime: 'now', keepCtime: true }, this.d.ctx(c)))
      .then((a) => this.d.cache.putAttr(a))
      .catch(() => undefined);
  }

  /** `fill`: the kernel's page-cache fill on a writeback-cache mount, which reads through write-only handles too. */
  async read(h: FileHandle, length: number, position: number, c: Caller, fill = false): Promise<Buffer> {
    if (!fill && (h.flags & O_ACCMODE) === fsc.O_WRONLY) throw new FsError('EBADF', 'handle not open for reading');
    if (position < 0) throw new FsError('EINVAL');
    if (h.atimeDue) {
      h.atimeDue = false;
      this.touchAtime(this.present(h.file.attr), c);
    }
    // Readahead is decided as the request arrives, in the kernel's order (completions reorder),
    // and started after this read's own fetch so that one goes first.
    const ahead = h.readahead.next(position, Math.max(0, Math.min(length, h.file.size - position)));
    const reading = h.file.bytes(length, position);
    if (ahead) h.file.prefetch(ahead.from, ahead.count);
    return reading;
  }

  async write(h: FileHandle, data: Buffer, position: number, c: Caller): Promise<number> {
    if ((h.flags & O_ACCMODE) === fsc.O_RDONLY) throw new FsError('EBADF', 'handle not open for writing');
    if (!h.privChecked) {
      h.privChecked = true;
      await this.d.killPriv(await this.d.cache.getattr(h.ino, this.d.ctx(c)), c);
    }
    const pos = h.flags & fsc.O_APPEND ? h.file.size : position;
    return h.file.write(data, pos);
  }

  /**
   * fallocate(2) on a handle open for writing: mode 0 grows the size (sparse: an object store
   * reserves no space), KEEP_SIZE alone changes nothing, PUNCH_HOLE|KEEP_SIZE and ZERO_RANGE
   * (with or without KEEP_SIZE) zero the range (FileWriter.zero). Clears setuid/setgid as a write does.
   */
  async fallocate(h: FileHandle, mode: number, offset: number, length: number, c: Caller): Promise<void> {
    if ((h.flags & O_ACCMODE) === fsc.O_RDONLY) throw new FsError('EBADF', 'handle not open for writing');
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0) {
      throw new FsError('EINVAL', `fallocate range ${offset}+${length}`);
    }
    if (offset + length > MAX_FILE_SIZE) throw new FsError('EFBIG', `fallocate past the maximum file size ${MAX_FILE_SIZE}`);
    const keepSize = (mode & FALLOC_FL_KEEP_SIZE) !== 0;
    const op = mode & ~FALLOC_FL_KEEP_SIZE;
    if ((op !== 0 && op !== FALLOC_FL_PUNCH_HOLE && op !== FALLOC_FL_ZERO_RANGE) || (op === FALLOC_FL_PUNCH_HOLE && !keepSize)) {
      throw new FsError('ENOTSUP', `fallocate mode ${mode}`);
    }
    await this.d.killPriv(await this.d.cache.getattr(h.ino, this.d.ctx(c)), c);
    if (!keepSize) h.file.extend(offset + length);
    if (op !== 0) await h.file.zero(offset, offset + length);
  }

  /** lseek SEEK_DATA / SEEK_HOLE (the kernel answers SEEK_SET/CUR/END itself): OpenFile.seek. */
  lseek(h: FileHandle, offset: number, whence: number): Promise<number> {
    if (whence !== SEEK_DATA && whence !== SEEK_HOLE) return Promise.reject(new FsError('EINVAL', `lseek whence ${whence}`));
    return h.file.seek(offset, whence === SEEK_HOLE);
  }

  /** Release a file handle: flush, drop the server's hold; a failed flush keeps the data for later. */
  async release(h: FileHandle, c: Caller): Promise<void> {
    const f = h.file;
    let failure: unknown;
    try {
      await f.flush();
    } catch (e) {
      failure = e; // dirty data stays in f for a later flush (next open, destroy)
    }
    f.handles--;
    try {
      await this.d.metaCall('release', () => this.d.meta.release(h.ino, this.d.ctx(c)));
    } catch (e) {
      failure ??= e;
    }
    // What this mount wrote is what it opens next time: the page cache holds those bytes.
    this.versions.set(f.ino, version(f.view(f.attr)));
    this.maybeDrop(f);
    if (failure) throw failure;
  }

  /** Truncate (or extend) a regular file, then clear what an unprivileged truncate clears. */
  async truncate(attr: Attr, size: number, c: Caller): Promise<Attr> {
    // Without an open state, start from fresh attributes (the cache may be a TTL old).
    const base = this.files.has(attr.ino) ? attr : await this.d.cache.getattr(attr.ino, this.d.ctx(c), true);
    const f = this.openFile(base);
    try {
      const a = await f.truncate(size);
      this.d.cache.putAttr(a);
      return (await this.d.killPriv(a, c)) ?? a;
    } finally {
      this.maybeDrop(f);
    }
  }

  /**
   * Unmount: flush every open state (each waits out the block deadline), save what still cannot
   * be flushed to the recovery folder, release every handle's hold. Rejects when any flush
   * failed: with UnflushedDataError naming the folder (or the data that could not be saved).
   */
  async closeAll(): Promise<void> {
    const files = [...this.files.values()];
    const results = await Promise.allSettled(files.map((f) => f.flush()));
    const unflushed = files.filter((_, i) => results[i].status === 'rejected');
    const saved = unflushed.length > 0 ? await this.saveForRecovery(files, unflushed, results) : undefined;
    const sys = { uid: 0, gid: 0, sessionId: this.d.sessionId };
    for (const h of this.d.handles.all()) {
      this.d.handles.delete(h.fh);
      if (h.kind === 'file') {
        h.file.handles--;
        await this.d.metaCall('release', () => this.d.meta.release(h.ino, sys)).catch(() => undefined);
      }
    }
    this.files.clear();
    if (saved) throw saved;
  }

  /** Save the pending commits of files whose last flush failed; the error unmount ends with. */
  private async saveForRecovery(files: OpenFile[], unflushed: OpenFile[], results: PromiseSettledResult<void>[]): Promise<UnflushedDataError> {
    const cause = (results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason as unknown;
    const why = cause instanceof Error ? cause.message : String(cause);
    const sink = this.d.recovery;
    const saved: string[] = [];
    const lost: string[] = [];
    for (const f of unflushed) {
      try {
        if (!sink) throw new Error('no recovery folder');
        const pending = await f.pendingCommit();
        const failed = (results[files.indexOf(f)] as PromiseRejectedResult).reason as unknown;
        if (pending) saved.push(await sink.save(pending, failed instanceof Error ? failed.message : String(failed)));
      } catch (e) {
        lost.push(`inode ${f.ino} (${e instanceof Error ? e.message : String(e)})`);
      }
    }
    const parts = [`unflushed data of ${unflushed.length} file(s) could not be uploaded (${why})`];
    if (saved.length > 0 && sink) parts.push(`${saved.length} saved to the recovery folder ${sink.folder}: ${sink.applyHint}`);
    if (lost.length > 0) parts.push(`LOST, could not be saved: ${lost.join(', ')}`);
    return new UnflushedDataError(parts.join('; '), saved, lost, { cause });
  }
}

/**
 * What keep_cache compares: a commit elsewhere changes mtime and size, and always ctime (which no
 * caller can set back, unlike mtime), so data changed by another client never matches.
 */
function version(attr: Attr): string {
  return `${attr.mtime}:${attr.ctime}:${attr.size}`;
}

/** Unmount ended with data it could not flush: saved to the recovery folder (`records`) or `lost`. */
export class UnflushedDataError extends Error {
  constructor(message: string, readonly records: string[], readonly lost: string[], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnflushedDataError';
  }
}
