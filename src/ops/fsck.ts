import type { MetaEngine } from '../meta/engine.js';
import type { VolumeSettings } from '../meta/types.js';
import { blockKey } from '../store/keys.js';
import type { ObjectStore } from '../store/types.js';
import { listVolumeBlocks, readReferences } from './scan.js';
import { DEFAULT_ORPHAN_AGE_SECONDS, type GcProgress } from './gc.js';
import { OPS_DEFAULTS } from '../config/defaults.js';

export interface FsckOptions {
  engine: MetaEngine;
  store: ObjectStore;
  volume: VolumeSettings;
  now?: number;
  /** Orphans at least this old are counted as collectable by gc (default 24 h). */
  orphanAgeSeconds?: number;
  /** Report at most this many items per list (counts stay exact; default 1000). */
  maxListed?: number;
  onProgress?: (p: GcProgress) => void;
  signal?: AbortSignal;
}

export interface MissingBlock { ino: number; index: number; blockId: number; key: string }

export interface FsckReport {
  volume: string;
  /** Block objects found under the volume's prefix. */
  objects: number;
  /** Slots that block maps reference. */
  referenced: number;
  /** Referenced by a block map but absent from the bucket: reads of these slots fail with EIO. */
  missing: MissingBlock[];
  missingCount: number;
  /** In the bucket, referenced by nothing. `collectable` of them are older than the safety age. */
  orphans: string[];
  orphanCount: number;
  orphanBytes: number;
  collectable: number;
  /** Queue entries (superseded/deleted blocks) waiting for gc; `due` are past retention. */
  queued: number;
  queuedDue: number;
  /** Keys under the volume prefix that are not block objects. */
  foreign: string[];
  /** Namespace problems from the engine (dangling entries, wrong nlink, orphan inodes, counters). */
  namespace: string[];
  /** true when nothing is damaged (orphans and queued blocks are gc's business, not damage). */
  ok: boolean;
}

/**
 * Check one volume: every block-map slot has its object (at the exact key readers use), which
 * objects nobody references, the gc queue, and the namespace. Read-only.
 */
export async function runFsck(o: FsckOptions): Promise<FsckReport> {
  const now = o.now ?? Date.now();
  const max = o.maxListed ?? OPS_DEFAULTS.fsckMaxListed;
  const volumeId = o.volume.id;
  const oldEnough = now - (o.orphanAgeSeconds ?? DEFAULT_ORPHAN_AGE_SECONDS) * 1000;
  const r: FsckReport = {
    volume: o.volume.name, objects: 0, referenced: 0, missing: [], missingCount: 0, orphans: [], orphanCount: 0,
    orphanBytes: 0, collectable: 0, queued: 0, queuedDue: 0, foreign: [], namespace: [], ok: true,
  };
  // Listing first, references second: a block committed during the check is then referenced,
  // never reported as an orphan. (A block deleted by a concurrent gc may show as missing only if
  // it was also superseded meanwhile; run fsck and gc apart.)
  const present = new Map<number, { key: string; size: number; mtimeMs: number }>();
  for await (const b of listVolumeBlocks(o.store, volumeId, (f) => { if (r.foreign.length < max) r.foreign.push(f.key); }, o.signal)) {
    present.set(b.blockId, { key: b.key, size: b.size, mtimeMs: b.mtimeMs });
    if (++r.objects % 1000 === 0) o.onProgress?.({ phase: 'scan', done: r.objects });
  }
  o.onProgress?.({ phase: 'scan', done: r.objects });
  const refs = await readReferences(o.engine, volumeId);
  r.referenced = refs.live.size;
  for (const [blockId, slot] of refs.live) {
    const key = blockKey(volumeId, slot.ino, slot.index, blockId);
    if (present.get(blockId)?.key === key) continue;
    r.missingCount++;
    if (r.missing.length < max) r.missing.push({ ino: slot.ino, index: slot.index, blockId, key });
  }
  for (const [blockId, obj] of present) {
    if (refs.live.has(blockId) || refs.queued.has(blockId)) continue;
    r.orphanCount++;
    r.orphanBytes += obj.size;
    if (obj.mtimeMs <= oldEnough) r.collectable++;
    if (r.orphans.length < max) r.orphans.push(obj.key);
  }
  r.queued = refs.queued.size;
  r.queuedDue = (await o.engine.gcQueue(volumeId, now - o.volume.retentionSeconds * 1000, Number.MAX_SAFE_INTEGER)).length;
  r.namespace = await o.engine.checkNamespace(volumeId);
  r.missing.sort((a, b) => a.ino - b.ino || a.index - b.index);
  r.ok = r.missingCount === 0 && r.namespace.length === 0;
  return r;
}
