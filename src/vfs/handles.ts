import { FsError } from '../errors/index.js';
import type { DirEntry } from '../meta/types.js';
import type { OpenFile } from './openfile.js';
import { ReadaheadDetector } from './readahead.js';

/** An open regular file (or other non-directory) through one open(2). */
export interface FileHandle {
  kind: 'file';
  fh: number;
  ino: number;
  flags: number;
  file: OpenFile;
  readahead: ReadaheadDetector;
  /** setuid/setgid already cleared (or found clear) for this handle's writes. */
  privChecked: boolean;
  /** relatime: the first read through a handle may bump atime (ext4 does it at the read, not the open). */
  atimeDue: boolean;
}

/** An open directory; `listing` is what readdir pages through (read at offset 0). */
export interface DirHandle {
  kind: 'dir';
  fh: number;
  ino: number;
  listing?: DirEntry[];
}

export type Handle = FileHandle | DirHandle;

const MAX_FH = 0x7fffffff;

/** fh → open state. Handle numbers are reused only after wrapping around 2^31. */
export class HandleTable {
  private readonly byFh = new Map<number, Handle>();
  private next = 1;

  private allocate(): number {
    while (this.byFh.has(this.next)) this.next = this.next >= MAX_FH ? 1 : this.next + 1;
    const fh = this.next;
    this.next = fh >= MAX_FH ? 1 : fh + 1;
    return fh;
  }

  addFile(ino: number, flags: number, file: OpenFile, readahead: ReadaheadDetector, atimeDue: boolean): FileHandle {
    const h: FileHandle = { kind: 'file', fh: this.allocate(), ino, flags, file, readahead, privChecked: false, atimeDue };
    this.byFh.set(h.fh, h);
    return h;
  }

  addDir(ino: number): DirHandle {
    const h: DirHandle = { kind: 'dir', fh: this.allocate(), ino };
    this.byFh.set(h.fh, h);
    return h;
  }

  get(fh: number): Handle {
    const h = this.byFh.get(fh);
    if (!h) throw new FsError('EBADF', `no open handle ${fh}`);
    return h;
  }

  /** The file handle `fh` (EISDIR for a directory's). */
  file(fh: number): FileHandle {
    const h = this.get(fh);
    if (h.kind !== 'file') throw new FsError('EISDIR');
    return h;
  }

  dir(fh: number): DirHandle {
    const h = this.get(fh);
    if (h.kind !== 'dir') throw new FsError('ENOTDIR');
    return h;
  }

  delete(fh: number): void {
    this.byFh.delete(fh);
  }

  all(): Handle[] {
    return [...this.byFh.values()];
  }
}
