import type { BlockRef, MetaStore, OpContext } from '../meta/types.js';

/** Block map slots loaded per metadata round trip. */
const MAP_CHUNK = 1024;

/**
 * One inode's committed block map as this mount knows it: slots fetched from the metadata server
 * in chunks on first use, updated by this mount's commits, dropped when the file changed
 * elsewhere (OpenFile.refresh) or was truncated.
 */
export class BlockMap {
  private readonly map = new Map<number, BlockRef>();
  private readonly chunks = new Map<number, Promise<void>>();

  constructor(
    private readonly ino: number,
    private readonly blockSize: number,
    private readonly meta: MetaStore,
    private readonly metaCall: <T>(what: string, fn: () => Promise<T>) => Promise<T>,
    private readonly ctx: () => OpContext,
  ) {}

  /** The committed block of slot `index`, or undefined for a hole. */
  async get(index: number): Promise<BlockRef | undefined> {
    const chunk = Math.floor(index / MAP_CHUNK);
    let loading = this.chunks.get(chunk);
    if (!loading) {
      loading = this.load(chunk);
      this.chunks.set(chunk, loading);
      loading.catch(() => this.chunks.delete(chunk)); // retry next time
    }
    await loading;
    return this.map.get(index);
  }

  /**
   * Take a complete map of the first chunk fetched before the open (FilePrefetch) whose file
   * version matched the open's: saves the first read its round trip. Ignored once anything loaded.
   */
  seed(refs: BlockRef[]): void {
    if (this.chunks.size > 0 || this.map.size > 0 || refs.some((r) => r.index >= MAP_CHUNK)) return;
    for (const r of refs) if (r.blockId !== 0) this.map.set(r.index, r);
    this.chunks.set(0, Promise.resolve());
  }

  /** A slot this mount just committed (a hole write, blockId 0, makes it a hole). */
  set(ref: BlockRef): void {
    if (ref.blockId === 0) this.map.delete(ref.index);
    else this.map.set(ref.index, ref);
  }

  /** The first committed slot in [from, to), or -1 (loads the chunks on the way). */
  async firstSlot(from: number, to: number): Promise<number> {
    for (let i = from; i < to;) {
      const chunkEnd = Math.min(to, (Math.floor(i / MAP_CHUNK) + 1) * MAP_CHUNK);
      await this.get(i);
      for (; i < chunkEnd; i++) if (this.map.has(i)) return i;
    }
    return -1;
  }

  private async load(chunk: number): Promise<void> {
    const from = chunk * MAP_CHUNK;
    const refs = await this.metaCall('blocks', () => this.meta.blocks(this.ino, from, MAP_CHUNK, this.ctx()));
    for (const r of refs) if (!this.map.has(r.index)) this.map.set(r.index, r);
  }

  drop(): void {
    this.map.clear();
    this.chunks.clear();
  }

  /** Forget slots past a file of `size` bytes. */
  dropBeyond(size: number): void {
    const lastIndex = Math.ceil(size / this.blockSize);
    for (const index of this.map.keys()) if (index >= lastIndex) this.map.delete(index);
  }
}
