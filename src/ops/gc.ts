import type { GcEntry, MetaEngine } from '../meta/engine.js';
import type { VolumeSettings } from '../meta/types.js';
import { blockKey } from '../store/keys.js';
import type { ObjectStore } from '../store/types.js';
import { forEachLimited, listVolumeBlocks, readReferences, type ListedBlock } from './scan.js';
import { OPS_DEFAULTS } from '../config/defaults.js';

/** Orphans younger than this are left alone: a mount may have PUT them and not committed yet. */
export const DEFAULT_ORPHAN_AGE_SECONDS = OPS_DEFAULTS.orphanAgeSeconds;

export interface GcOptions {
  engine: MetaEngine;
  /** The volume's own block store (openStore(settings.blockStore)). */
  store: ObjectStore;
  volume: VolumeSettings;
  /** "Now" in ms since the epoch (tests move it instead of sleeping). */
  now?: number;
  /** Keep queued blocks this long after they were superseded (default: the volume's retention). */
  retentionSeconds?: number;
  /** Delete unreferenced objects only when their mtime is at least this old (default 24 h). */
  orphanAgeSeconds?: number;
  /** Also scan the bucket for objects no metadata references (default true). */
  orphans?: boolean;
  /** Count and report, delete nothing. */
  dryRun?: boolean;
  /** Parallel DELETEs (default 16). */
  concurrency?: number;
  /** Queue entries per round trip (default 1000). */
  batch?: number;
  onProgress?: (p: GcProgress) => void;
  signal?: AbortSignal;
}

export interface GcProgress {
  phase: 'queue' | 'scan' | 'orphans';
  done: number;
  /** Known total for the phase, when there is one. */
  total?: number;
}

export interface GcSummary {
  volume: string;
  dryRun: boolean;
  /** Queued (superseded/deleted) blocks past retention: deleted, or would be in a dry run. */
  queuedDeleted: number;
  /** Queued blocks still inside the retention window. */
  queuedKept: number;
  /** Objects scanned in the bucket. */
  scanned: number;
  /** History records older than the retention window, pruned (0 in a dry run; docs/METADATA.md "History"). */
  historyPruned: number;
  /** Unreferenced objects old enough: deleted (or would be). */
  orphansDeleted: number;
  orphanBytes: number;
  /** Unreferenced objects younger than the safety age: kept. */
  orphansYoung: number;
  /** Keys under the volume prefix that are not block objects (never touched). */
  foreign: number;
  /** Deletions that failed (retry on the next run); messages carry no secrets. */
  errors: string[];
}

const MAX_ERRORS = 100;

/**
 * Garbage-collect one volume: (1) objects of queued blocks past retention are deleted and then
 * dropped from the queue; (2) objects under the volume's prefix that no block map or queue entry
 * references and whose mtime is older than the safety age are deleted. A referenced block is never
 * deleted: the reference snapshot is read AFTER listing, so anything committed before the check
 * is protected, and anything still uncommitted is younger than the safety age.
 */
export async function runGc(o: GcOptions): Promise<GcSummary> {
  const now = o.now ?? Date.now();
  const retention = o.retentionSeconds ?? o.volume.retentionSeconds;
  const orphanAge = o.orphanAgeSeconds ?? DEFAULT_ORPHAN_AGE_SECONDS;
  for (const [name, v] of [['retention', retention], ['orphan age', orphanAge]] as const) {
    if (!Number.isFinite(v) || v < 0) throw new Error(`gc: ${name} must be a non-negative number of seconds, got ${v}`);
  }
  const concurrency = o.concurrency ?? OPS_DEFAULTS.gcConcurrency;
  const volumeId = o.volume.id;
  const s: GcSummary = {
    volume: o.volume.name, dryRun: !!o.dryRun, queuedDeleted: 0, queuedKept: 0, historyPruned: 0, scanned: 0,
    orphansDeleted: 0, orphanBytes: 0, orphansYoung: 0, foreign: 0, errors: [],
  };
  const noteError = (what: string, e: unknown) => {
    if (s.errors.length < MAX_ERRORS) s.errors.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
  };

  // --- 1. the queue
  const cutoff = now - retention * 1000;
  const total = (await o.engine.gcQueue(volumeId, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)).length;
  if (o.dryRun) {
    s.queuedDeleted = (await o.engine.gcQueue(volumeId, cutoff, Number.MAX_SAFE_INTEGER)).length;
  } else {
    const batch = o.batch ?? OPS_DEFAULTS.gcBatch;
    const failed = new Set<number>(); // entries whose delete failed stay queued; skip them this run
    for (;;) {
      o.signal?.throwIfAborted();
      const entries = (await o.engine.gcQueue(volumeId, cutoff, batch + failed.size)).filter((e) => !failed.has(e.blockId));
      if (entries.length === 0) break;
      const done: GcEntry[] = [];
      await forEachLimited(entries, concurrency, async (e) => {
        try {
          await o.store.delete(blockKey(volumeId, e.ino, e.index, e.blockId), { signal: o.signal });
          done.push(e);
        } catch (err) {
          failed.add(e.blockId);
          noteError(`delete queued block ${e.blockId}`, err);
        }
      });
      await o.engine.gcDone(volumeId, done);
      s.queuedDeleted += done.length;
      o.onProgress?.({ phase: 'queue', done: s.queuedDeleted, total });
      if (failed.size > MAX_ERRORS) break; // the store is failing: stop, the rest waits for the next run
    }
  }
  s.queuedKept = o.dryRun ? total - s.queuedDeleted
    : (await o.engine.gcQueue(volumeId, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)).length;
  // The history goes with the blocks it could point at: nothing before the cutoff can be seen.
  if (!o.dryRun) s.historyPruned = await o.engine.pruneHistory(volumeId, cutoff);

  // --- 2. orphans
  if (o.orphans === false) return s;
  const oldEnough = now - orphanAge * 1000;
  const candidates: ListedBlock[] = [];
  for await (const b of listVolumeBlocks(o.store, volumeId, () => { s.foreign++; }, o.signal)) {
    s.scanned++;
    if (s.scanned % 1000 === 0) o.onProgress?.({ phase: 'scan', done: s.scanned });
    candidates.push(b);
  }
  o.onProgress?.({ phase: 'scan', done: s.scanned });
  // References are read after the listing (see above).
  const refs = await readReferences(o.engine, volumeId);
  const orphans: ListedBlock[] = [];
  for (const b of candidates) {
    if (refs.live.has(b.blockId) || refs.queued.has(b.blockId)) continue;
    if (b.mtimeMs > oldEnough) s.orphansYoung++;
    else orphans.push(b);
  }
  let deleted = 0;
  if (o.dryRun) {
    s.orphansDeleted = orphans.length;
    s.orphanBytes = orphans.reduce((n, b) => n + b.size, 0);
  } else {
    await forEachLimited(orphans, concurrency, async (b) => {
      try {
        await o.store.delete(b.key, { signal: o.signal });
        s.orphansDeleted++;
        s.orphanBytes += b.size;
      } catch (err) {
        noteError(`delete orphan ${b.key}`, err);
      }
      if (++deleted % 100 === 0) o.onProgress?.({ phase: 'orphans', done: deleted, total: orphans.length });
    });
  }
  o.onProgress?.({ phase: 'orphans', done: orphans.length, total: orphans.length });
  return s;
}
