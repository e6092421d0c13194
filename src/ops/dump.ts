import { hasRecordAccess, type MetaEngine, type VolumeRecordAccess } from '../meta/engine.js';
import type { StoredVolume } from '../meta/core/admin.js';
import type { MetaTx } from '../meta/core/tx.js';
import { ROOT_INO } from '../meta/types.js';
import { OPS_DEFAULTS } from '../config/defaults.js';
import {
  DUMP_FORMAT, DUMP_VERSION, gcRecord, inodeRecord, type Counts, type DumpRecord, type EntryRecord, type InodeData,
  type InodeRecord,
} from './dump-format.js';

/**
 * `meta.flexfs dump`: a volume's metadata as a stream of records (dump-format.ts), read in small
 * read-only transactions so the volume never sits in memory: the tree is walked from the root, a
 * page of directory entries at a time. Memory grows only with the directories still to visit
 * and the hard-linked files already written (so each inode is dumped once).
 *
 * Not dumped: sessions and their holds (a mount reconnects and opens its files again), so an
 * unlinked file still held open is left out (its blocks are then unreferenced and `gc` deletes
 * them after --orphanAge); operation-id records (short-lived retry dedupe); tokens (secrets:
 * make new ones on the target); bucket keys in the settings (they come from the server's creds).
 * A dump of a volume in use is not one point in time: dump an unmounted volume for an exact copy.
 */

export function requireRecordAccess(engine: MetaEngine): MetaEngine & VolumeRecordAccess {
  if (!hasRecordAccess(engine)) throw new Error(`the ${engine.kind} engine opened here cannot dump or load (open it in-process)`);
  return engine;
}

/** The dumped volume record: the stored one without bucket keys (secrets of the server's creds). */
export function dumpedVolume(v: StoredVolume): StoredVolume {
  const { blockUser: _u, blockPass: _p, ...blockStore } = v.settings.blockStore;
  return { ...v, settings: { ...v.settings, blockStore } };
}

export async function* dumpVolume(engine: MetaEngine, nameOrId: string, pageEntries: number = OPS_DEFAULTS.dumpPageEntries): AsyncGenerator<DumpRecord> {
  const e = requireRecordAccess(engine);
  const stored = await e.storedVolume(nameOrId);
  if (!stored) throw new Error(`no volume "${nameOrId}"`);
  const id = stored.settings.id;
  const read = <T>(fn: (tx: MetaTx) => Promise<T>) => e.transactRecords(id, fn, true);
  const counts: Counts = { inodes: 0, entries: 0, quotas: 0, gc: 0 };

  yield { kind: 'header', format: DUMP_FORMAT, version: DUMP_VERSION, engine: engine.kind, dumpedAt: new Date().toISOString() };
  yield { kind: 'volume', volume: dumpedVolume(stored) };

  const root = await read(async (tx) => {
    const rec = await tx.getInode(ROOT_INO);
    return rec && inodeData(tx, rec);
  });
  if (!root) throw new Error(`volume "${stored.settings.name}" has no root directory (run meta.flexfs fsck)`);
  counts.inodes++;
  yield inodeRecord(root);

  const linked = new Set<number>(); // hard-linked inodes already dumped
  const dirs = [ROOT_INO];
  for (let dir = dirs.pop(); dir !== undefined; dir = dirs.pop()) {
    for (let after: string | undefined; ;) {
      const parent = dir;
      const page = await read(async (tx) => {
        const entries = await tx.listEntries(parent, after, pageEntries);
        const recs = await tx.getInodes(entries.map((x) => x.ino));
        const fresh = recs.filter((r): r is NonNullable<typeof r> => r !== null && !linked.has(r.ino));
        return { entries, inodes: await Promise.all(fresh.map((r) => inodeData(tx, r))) };
      });
      const records: (InodeRecord | EntryRecord)[] = [];
      const seen = new Set<number>();
      for (const d of page.inodes) {
        if (seen.has(d.rec.ino)) continue; // two names of one inode in the same page
        seen.add(d.rec.ino);
        if (d.rec.type === 'dir') dirs.push(d.rec.ino);
        else if (d.rec.nlink > 1) linked.add(d.rec.ino);
        records.push(inodeRecord(d));
      }
      for (const x of page.entries) records.push({ kind: 'entry', parent, name: x.name, ino: x.ino });
      counts.inodes += seen.size;
      counts.entries += page.entries.length;
      yield* records;
      if (page.entries.length < pageEntries) break;
      after = page.entries[page.entries.length - 1].name;
    }
  }

  const quotas = await read(async (tx) => {
    const dirs = await tx.quotaDirs();
    return (await Promise.all(dirs.map(async (dir) => ({ dir, q: await tx.getQuota(dir) })))).filter((x) => x.q !== null);
  });
  for (const { dir, q } of quotas) {
    counts.quotas!++;
    yield { kind: 'quota', dir, limitBytes: q!.limitBytes, limitInodes: q!.limitInodes };
  }

  for await (const g of e.gcEntries(id)) {
    counts.gc++;
    yield gcRecord(g);
  }
  // Read last, so every id handed out while the walk ran is below them.
  const counters = await read(async (tx) => ({
    ...(await tx.getIdCounters()), inodes: await tx.getCounter('inodes'), usedBytes: await tx.getCounter('usedBytes'),
  }));
  yield { kind: 'end', counts, counters };
}

async function inodeData(tx: MetaTx, rec: NonNullable<Awaited<ReturnType<MetaTx['getInode']>>>): Promise<InodeData> {
  const names = (await tx.listXattrs(rec.ino)).sort(); // hash order differs by engine
  const values = await Promise.all(names.map((n) => tx.getXattr(rec.ino, n)));
  const xattrs = names.flatMap((n, i): [string, Buffer][] => (values[i] === null ? [] : [[n, values[i] as Buffer]]));
  const blocks = rec.type === 'file' ? await tx.getSlots(rec.ino) : [];
  return { rec, xattrs, blocks };
}
