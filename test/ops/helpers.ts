import type { MetaStore, OpContext, VolumeSettings } from '../../src/meta/types.js';
import { blockKey, volumeBlocksPrefix, type ObjectStore } from '../../src/store/index.js';

/** Helpers that build volume contents the way a mount does (real engine, real store). */
export const ctx: OpContext = { uid: 0, gid: 0 };

/** Write a file of `blocks` slots the way a mount does: ids, PUT each object, one commit. */
export async function writeFile(meta: MetaStore, store: ObjectStore, vol: VolumeSettings, name: string, blocks: number): Promise<{ ino: number; ids: number[] }> {
  const attr = await meta.create(1, name, 0o100644, ctx);
  const ids = await putAndCommit(meta, store, vol, attr.ino, [...Array(blocks).keys()]);
  return { ino: attr.ino, ids };
}

export async function putAndCommit(meta: MetaStore, store: ObjectStore, vol: VolumeSettings, ino: number, slots: number[]): Promise<number[]> {
  const first = await meta.allocIds(slots.length, ctx);
  const writes = slots.map((index, i) => ({ index, blockId: first + i, length: 100 }));
  for (const w of writes) await store.put(blockKey(vol.id, ino, w.index, w.blockId), Buffer.alloc(100, w.index));
  // Never shrink: a smaller size would truncate (and queue) the slots past it.
  const size = Math.max((await meta.getattr(ino, ctx)).size, Math.max(...slots) * vol.blockSize + 100);
  await meta.commit({ ino, writes, size, mtime: BigInt(Date.now()) * 1_000_000n }, ctx);
  return writes.map((w) => w.blockId);
}

export async function keysOf(store: ObjectStore, vol: VolumeSettings): Promise<string[]> {
  const out: string[] = [];
  let after: string | undefined;
  do {
    const p = await store.list(volumeBlocksPrefix(vol.id), { after });
    out.push(...p.objects.map((o) => o.key));
    after = p.next;
  } while (after);
  return out.sort();
}

