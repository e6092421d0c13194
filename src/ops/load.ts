import { buildVolume, VOLUME_NAME_RE, type StoredVolume } from '../meta/core/admin.js';
import type { MetaTx } from '../meta/core/tx.js';
import type { MetaEngine } from '../meta/engine.js';
import type { VolumeSettings } from '../meta/types.js';
import { OPS_DEFAULTS } from '../config/defaults.js';
import { DumpFormatError, inodeFromRecord, type Counts, type DumpRecord, type EndRecord } from './dump-format.js';
import { requireRecordAccess } from './dump.js';

/**
 * `meta.flexfs load`: a dump (dump-format.ts) into a NEW volume of any engine, keeping the
 * volume id, inode numbers and block ids, so the blocks already in the bucket serve it as before.
 * Records are written in batches, one transaction each. The counts and counters of the closing
 * `end` record are checked and applied last; a dump that ends early or does not add up fails,
 * and the half-loaded volume is deleted again.
 * The parents of non-directories (core/ancestry.ts) are rebuilt from the entries: a hard-linked
 * inode's link-parents record, and the parent of a file dumped before parents were kept. Only
 * those inodes are remembered while loading (their numbers and the directories of their names).
 */

export interface LoadOptions {
  /** Load under this name instead of the dumped one (the id stays: one engine cannot hold both). */
  name?: string;
  batchRecords?: number;
  onProgress?: (records: number) => void;
}

export interface LoadSummary { volume: VolumeSettings; counts: Counts }

/** A failure after the volume was created; the message says whether it was removed again. */
export class LoadError extends Error {}

/** Rebuild the volume record through the same checks as `volume create`, keeping id and flags. */
export function restoredVolume(v: StoredVolume, name?: string): StoredVolume {
  const s = v.settings;
  let built: StoredVolume;
  try {
    built = buildVolume({
      name: name ?? s.name, blockSize: s.blockSize, compression: s.compression, encryption: s.encryption,
      blockStore: s.blockStore, retentionSeconds: s.retentionSeconds, proxies: s.proxies,
      capacityBytes: v.capacityBytes, inodeLimit: v.inodeLimit,
    });
  } catch (e) {
    throw new Error(`dump volume record: ${(e as Error).message}`);
  }
  if (typeof s.id !== 'string' || !VOLUME_NAME_RE.test(s.id)) throw new Error('dump volume record: bad volume id');
  built.settings.id = s.id;
  // Older encrypted volumes keep plaintext names: the flag is the volume's format, not a default.
  if (s.nameEncryption !== 1) delete built.settings.nameEncryption;
  if (Number.isSafeInteger(v.createdAt)) built.createdAt = v.createdAt;
  return built;
}

export async function loadVolume(engine: MetaEngine, records: AsyncIterable<{ record: DumpRecord; line: number }>, opts: LoadOptions = {}): Promise<LoadSummary> {
  const e = requireRecordAccess(engine);
  const batchSize = opts.batchRecords ?? OPS_DEFAULTS.loadBatchRecords;
  const it = records[Symbol.asyncIterator]();
  const next = async (expect: string) => {
    const n = await it.next();
    if (n.done) throw new Error(`the dump ends before its ${expect} record (empty or cut short)`);
    return n.value;
  };
  const first = await next('header');
  if (first.record.kind !== 'header') throw new DumpFormatError(first.line, 'a dump starts with its header record');
  const second = await next('volume');
  if (second.record.kind !== 'volume') throw new DumpFormatError(second.line, 'the volume record must follow the header');
  const stored = restoredVolume(second.record.volume, opts.name);
  const volume = await e.restoreVolume(stored).catch((err: Error) => {
    throw new Error(`${err.message}: load into a new name (--name) on an engine that does not hold this volume id yet`);
  });

  const counts: Counts = { inodes: 0, entries: 0, gc: 0 };
  const max = { ino: 1, blockId: 0 };
  const names = new ParentsFromEntries();
  let end: EndRecord | undefined;
  try {
    let batch: DumpRecord[] = [];
    let done = 0;
    const flush = async () => {
      const writing = batch;
      batch = [];
      await e.transactRecords(volume.id, async (tx) => { for (const r of writing) apply(tx, r); });
      done += writing.length;
      opts.onProgress?.(done);
    };
    for (let n = await it.next(); !n.done; n = await it.next()) {
      const { record: r, line } = n.value;
      if (end) throw new DumpFormatError(line, 'records after the end record');
      if (r.kind === 'header' || r.kind === 'volume') throw new DumpFormatError(line, `a second ${r.kind} record`);
      if (r.kind === 'end') { end = r; continue; }
      names.see(r);
      if (r.kind === 'inode') { counts.inodes++; max.ino = Math.max(max.ino, r.ino); for (const b of r.blocks ?? []) max.blockId = Math.max(max.blockId, b[1]); }
      else if (r.kind === 'entry') counts.entries++;
      else { counts.gc++; max.blockId = Math.max(max.blockId, r.blockId); }
      batch.push(r);
      if (batch.length >= batchSize) await flush();
    }
    if (!end) throw new Error('the dump has no end record: it was cut short (nothing of it is kept)');
    for (const k of ['inodes', 'entries', 'gc'] as const) {
      if (end.counts[k] !== counts[k]) throw new Error(`the dump is damaged: its end record counts ${end.counts[k]} ${k}, the dump holds ${counts[k]}`);
    }
    if (batch.length) await flush();
    await names.store((fn) => e.transactRecords(volume.id, fn), batchSize);
    const c = end.counters;
    await e.transactRecords(volume.id, async (tx) => {
      // Never below the ids stored inodes and blocks use, so new ones cannot collide with them.
      tx.setIdCounters({ nextIno: Math.max(c.nextIno, max.ino + 1), nextBlock: Math.max(c.nextBlock, max.blockId + 1) });
      tx.addCounter('inodes', c.inodes - await tx.getCounter('inodes'));
      tx.addCounter('usedBytes', c.usedBytes - await tx.getCounter('usedBytes'));
    });
  } catch (err) {
    const removed = await e.deleteVolume(volume.id, true).then(() => true, () => false);
    const note = removed ? 'the partly loaded volume was removed'
      : `the partly loaded volume "${volume.name}" (id ${volume.id}) is still there: remove it with meta.flexfs volume delete --force ${volume.name}`;
    throw new LoadError(`${(err as Error).message}; ${note}`);
  }
  return { volume, counts };
}

/** The directories of the names of the inodes whose parents the dump does not say in full. */
class ParentsFromEntries {
  private readonly dirs = new Map<number, { parent?: number; names: number[] }>();

  see(r: DumpRecord): void {
    if (r.kind === 'inode' && r.type !== 'dir' && (r.nlink > 1 || r.parent === undefined)) {
      this.dirs.set(r.ino, { parent: r.parent, names: [] });
    } else if (r.kind === 'entry') {
      this.dirs.get(r.ino)?.names.push(r.parent);
    }
  }

  /** Write them: InodeRec.parent (where the dump lacked it) and the link-parents records. */
  async store(run: (fn: (tx: MetaTx) => Promise<void>) => Promise<void>, batchSize: number): Promise<void> {
    const todo = [...this.dirs].filter(([, d]) => d.names.length > 0);
    for (let i = 0; i < todo.length; i += batchSize) {
      const part = todo.slice(i, i + batchSize);
      await run(async (tx) => {
        for (const [ino, d] of part) {
          const primary = d.parent !== undefined && d.names.includes(d.parent) ? d.parent : d.names[0];
          if (primary !== d.parent) {
            const rec = await tx.getInode(ino);
            if (rec) tx.putInode({ ...rec, parent: primary });
          }
          const rest = [...d.names];
          rest.splice(rest.indexOf(primary), 1);
          const counts = new Map<number, number>();
          for (const dir of rest) counts.set(dir, (counts.get(dir) ?? 0) + 1);
          tx.putLinkParents(ino, counts.size ? [...counts].sort((a, b) => a[0] - b[0]) : null);
        }
      });
    }
  }
}

function apply(tx: MetaTx, r: DumpRecord): void {
  if (r.kind === 'inode') {
    const d = inodeFromRecord(r);
    tx.putInode(d.rec);
    for (const [name, value] of d.xattrs) tx.setXattr(d.rec.ino, name, value);
    for (const b of d.blocks) tx.putSlot(d.rec.ino, b);
  } else if (r.kind === 'entry') {
    tx.putEntry(r.parent, r.name, r.ino);
  } else if (r.kind === 'gc') {
    tx.gcPush(r.ino, r.index, r.blockId, r.queuedAt);
  }
}
