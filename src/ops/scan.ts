import type { MetaEngine } from '../meta/engine.js';
import { parseBlockKey, volumeBlocksPrefix } from '../store/keys.js';
import type { ObjectInfo, ObjectStore } from '../store/types.js';

/** One block object found in the bucket, with what its key says about it. */
export interface ListedBlock extends ObjectInfo {
  ino: number;
  index: number;
  blockId: number;
}

/**
 * Every object under the volume's block prefix, page by page. Keys that are not block objects
 * (someone else's files, stray uploads) go to `onForeign` and are never touched by gc.
 */
export async function* listVolumeBlocks(store: ObjectStore, volumeId: string,
  onForeign?: (o: ObjectInfo) => void, signal?: AbortSignal): AsyncIterable<ListedBlock> {
  const prefix = volumeBlocksPrefix(volumeId);
  let after: string | undefined;
  do {
    const page = await store.list(prefix, { after, signal });
    for (const o of page.objects) {
      const parsed = parseBlockKey(o.key);
      if (!parsed || parsed.volumeId !== volumeId) onForeign?.(o);
      else yield { ...o, ino: parsed.ino, index: parsed.index, blockId: parsed.blockId };
    }
    after = page.next;
  } while (after);
}

/** Everything the metadata references, split into live slots and queued (superseded/deleted) ids. */
export interface References {
  /** Block ids some inode's block map points at, with the slot that points at them. */
  live: Map<number, { ino: number; index: number; length: number }>;
  /** Block ids waiting in the gc queue. */
  queued: Set<number>;
}

/** Snapshot of the volume's references (block maps + gc queue). */
export async function readReferences(engine: MetaEngine, volumeId: string): Promise<References> {
  const queued = new Set<number>();
  // The queue, whole (cut-off "forever"); referencedBlocks reports queued ids too, we tell them apart.
  for (const e of await engine.gcQueue(volumeId, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)) queued.add(e.blockId);
  const live = new Map<number, { ino: number; index: number; length: number }>();
  for await (const r of engine.referencedBlocks(volumeId)) {
    if (queued.has(r.blockId) && r.length === 0) continue;
    live.set(r.blockId, { ino: r.ino, index: r.index, length: r.length });
  }
  return { live, queued };
}

/** Run `fn` over `items` with at most `limit` in flight; resolves when all settled. */
export async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
