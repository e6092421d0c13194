import { mkdir, open, readdir, readFile, rename, rmdir, unlink, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeRecord, encodeRecord, type RecoveryRecord } from './record.js';
import type { PendingCommit, RecoverySink } from './types.js';

const RECORD_SUFFIX = '.fxr';
const TMP_SUFFIX = '.tmp';
/** Subfolders for records that were not applied and are kept for the operator. */
export type AsideKind = 'superseded' | 'damaged' | 'refused';

/** A record file in the folder: its name and the order it applies in. */
export interface RecordEntry {
  name: string;
  ino: number;
  seq: bigint;
}

/**
 * One volume's recovery folder (0700; records 0600: they hold file data, encrypted frames only on
 * E2E volumes). Records are written to a dot-tmp file, fsync'd, renamed into place and the folder
 * fsync'd, so a record is there whole or not at all; a leftover tmp file is a save that never
 * finished and is removed by list(). Names are `<ino>-<seq>.fxr`, seq increasing per save, so one
 * inode's records apply in the order they were written.
 */
export class RecoveryFolder implements RecoverySink {
  private lastSeq = 0n;

  constructor(
    readonly folder: string,
    private readonly volume: { id: string; name: string },
    readonly applyHint: string,
    /** The mount runs with --sse=require: its records demand SSE wherever they are applied. */
    private readonly sseRequired = false,
  ) {}

  async save(pending: PendingCommit, reason = 'the block store did not take the blocks before the deadline'): Promise<string> {
    await this.ensureFolder();
    const record: RecoveryRecord = {
      ...pending, volumeId: this.volume.id, volume: this.volume.name, savedAt: new Date().toISOString(), reason,
      ...(this.sseRequired ? { sseRequired: true } : {}),
    };
    const name = `${pending.ino}-${this.nextSeq()}${RECORD_SUFFIX}`;
    const tmp = join(this.folder, `.${name}${TMP_SUFFIX}`);
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(encodeRecord(record));
      await fh.sync();
    } finally {
      await fh.close();
    }
    const path = join(this.folder, name);
    await rename(tmp, path);
    await syncDir(this.folder);
    return path;
  }

  /** Records in apply order (by inode, then save order); removes tmp files of unfinished saves. */
  async list(): Promise<RecordEntry[]> {
    const names = await readdir(this.folder).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return [] as string[];
      throw e;
    });
    const out: RecordEntry[] = [];
    for (const name of names) {
      if (name.startsWith('.') && name.endsWith(TMP_SUFFIX)) {
        await unlink(join(this.folder, name)).catch(() => undefined);
        continue;
      }
      const m = /^(\d+)-(\d+)\.fxr$/.exec(name);
      if (m) out.push({ name, ino: Number(m[1]), seq: BigInt(m[2]) });
    }
    return out.sort((a, b) => a.ino - b.ino || (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
  }

  async read(entry: RecordEntry): Promise<RecoveryRecord> {
    return decodeRecord(await readFile(join(this.folder, entry.name)));
  }

  async remove(entry: RecordEntry): Promise<void> {
    await unlink(join(this.folder, entry.name));
    await syncDir(this.folder);
  }

  /** Keep a record that is not applied under `kind/`; returns its new path. */
  async moveAside(entry: RecordEntry, kind: AsideKind): Promise<string> {
    const dir = join(this.folder, kind);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const to = join(dir, entry.name);
    await rename(join(this.folder, entry.name), to);
    await syncDir(this.folder);
    return to;
  }

  /** Remove the folder if nothing is left in it (records kept aside keep it). */
  async removeIfEmpty(): Promise<boolean> {
    return rmdir(this.folder).then(() => true, () => false);
  }

  private async ensureFolder(): Promise<void> {
    await mkdir(this.folder, { recursive: true, mode: 0o700 });
    await chmod(this.folder, 0o700);
  }

  /** Wall-clock ns, strictly increasing within this process (two saves in one ms stay ordered). */
  private nextSeq(): string {
    let seq = BigInt(Date.now()) * 1_000_000n;
    if (seq <= this.lastSeq) seq = this.lastSeq + 1n;
    this.lastSeq = seq;
    return seq.toString().padStart(20, '0');
  }
}

/** fsync a directory so a rename or unlink in it survives a power loss. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
