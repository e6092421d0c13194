import type { MetaStore, OpContext } from '../meta/types.js';

/** Hands out block ids reserved from the metadata server in batches (one round trip per batch). */
export class BlockIdAllocator {
  private next = 0;
  private end = 0;
  private pending: Promise<void> | undefined;

  constructor(
    private readonly meta: MetaStore,
    private readonly ctx: () => OpContext,
    private readonly batch = 64,
    private readonly call: <T>(what: string, fn: () => Promise<T>) => Promise<T> = (_w, fn) => fn(),
  ) {}

  async alloc(): Promise<number> {
    while (this.next >= this.end) {
      this.pending ??= this.refill().finally(() => {
        this.pending = undefined;
      });
      await this.pending;
    }
    return this.next++;
  }

  private async refill(): Promise<void> {
    const first = await this.call('allocIds', () => this.meta.allocIds(this.batch, this.ctx()));
    this.next = first;
    this.end = first + this.batch;
  }
}
