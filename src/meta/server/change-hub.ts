import type { Changes } from '../types.js';
import { ChangeBatch, type ChangesFrame } from '../protocol/index.js';

/** A watching session as the hub sees it: where it belongs and how to reach it. */
export interface ChangeSubscriber {
  readonly volumeId: string;
  readonly id: string;
  /** Send one frame to the session (dropped if its socket is gone). */
  sendChanges(frame: ChangesFrame): void;
}

/** Items queued for one session past which it is told "everything may be stale" instead. */
const MAX_QUEUED_ITEMS = 10_000;

/**
 * Fans one session's mutations out to the other watching sessions of the same volume on this
 * server, batched: what arrives within one turn of the event loop goes out as one frame per
 * session. A session whose queue grows past MAX_QUEUED_ITEMS gets `all` (drop every cache) instead.
 * Sessions on other meta.flexfs servers of the same engine are not reached yet (docs/SEMANTICS.md).
 */
export class ChangeHub {
  private readonly byVolume = new Map<string, Set<ChangeSubscriber>>();
  private readonly queued = new Map<ChangeSubscriber, { batch: ChangeBatch; overflow: boolean }>();
  private flushScheduled = false;

  /** `onSent` sees every frame that goes out (server metrics). */
  constructor(private readonly onSent: (frame: ChangesFrame) => void = () => undefined) {}

  add(s: ChangeSubscriber): void {
    let set = this.byVolume.get(s.volumeId);
    if (!set) this.byVolume.set(s.volumeId, (set = new Set()));
    set.add(s);
  }

  remove(s: ChangeSubscriber): void {
    const set = this.byVolume.get(s.volumeId);
    set?.delete(s);
    if (set?.size === 0) this.byVolume.delete(s.volumeId);
    this.queued.delete(s);
  }

  /** `origin` changed these in `volumeId`: queue them for every other watching session there. */
  publish(volumeId: string, origin: string, changes: Partial<Changes>): void {
    const set = this.byVolume.get(volumeId);
    if (!set) return;
    for (const s of set) {
      if (s.id === origin) continue;
      let q = this.queued.get(s);
      if (!q) this.queued.set(s, (q = { batch: new ChangeBatch(), overflow: false }));
      if (q.overflow) continue;
      q.batch.add(changes);
      if (q.batch.size > MAX_QUEUED_ITEMS) { q.overflow = true; q.batch.take(); }
    }
    if (!this.flushScheduled && this.queued.size > 0) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const queued = [...this.queued];
    this.queued.clear();
    for (const [s, q] of queued) {
      const frame: ChangesFrame = q.overflow ? { t: 'changes', all: true } : { t: 'changes', ...q.batch.take() };
      this.onSent(frame);
      s.sendChanges(frame);
    }
  }
}
