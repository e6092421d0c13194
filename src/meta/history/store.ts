import { CoreMetaStore } from '../core/store.js';
import type { TxRunner } from '../core/tx.js';
import type { Attr, LockRange, OpContext } from '../types.js';
import { asOfRunner } from './as-of-tx.js';

const F_UNLCK = 2;

/**
 * The volume as of `at`, read-only: every read is answered from the as-of view (as-of-tx.ts),
 * every change fails EROFS. Opening takes no hold (nothing in the past can be removed under a
 * reader) and locks exclude nothing (nothing can change), so they are granted without a record.
 */
export class AsOfMetaStore extends CoreMetaStore {
  constructor(runner: TxRunner, readonly at: number, onClose?: () => Promise<void>) {
    super(asOfRunner(runner, at), onClose);
  }

  override open(ino: number, ctx: OpContext): Promise<Attr> { return this.getattr(ino, ctx); }
  override async release(): Promise<void> {}
  override async releaseSession(): Promise<void> {}
  override async getlk(_ino: number, _owner: string, lock: LockRange): Promise<LockRange> { return { ...lock, type: F_UNLCK }; }
  override async setlk(): Promise<void> {}
  override async flock(): Promise<void> {}
  override async releaseLocks(): Promise<void> {}
}
