import type { ChangeBus } from '../engine.js';
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
 * With a ChangeBus (redis), sessions on the other meta.flexfs servers of the engine hear them too.
 */
export class ChangeHub {
  private readonly byVolume = new Map<string, Set<ChangeSubscriber>>();
  private readonly queued = new Map<ChangeSubscriber, { batch: ChangeBatch; overflow: boolean }>();
  private flushScheduled = false;

  private bus: ChangeBus | undefined;

  /** `onSent` sees every frame that goes out (server metrics). */
  constructor(private readonly onSent: (frame: ChangesFrame) => void = () => undefined) {}

  /**
   * Share changes with the other servers of the engine: what this server's sessions change is
   * published, what theirs change is delivered here; a bus that may have lost messages makes
   * every watching session here drop all it caches.
   */
  async connect(bus: ChangeBus): Promise<void> {
    await bus.subscribe((volumeId, origin, changes) => this.deliver(volumeId, origin, changes), () => this.resetAll());
    this.bus = bus;
  }

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

  /** Session `origin` of this server changed these in `volumeId`. */
  publish(volumeId: string, origin: string, changes: Partial<Changes>): void {
    this.deliver(volumeId, origin, changes);
    this.bus?.publish(volumeId, origin, changes);
  }

  /** Every watching session here: changes may have been missed. */
  resetAll(): void {
    for (const set of this.byVolume.values()) {
      for (const s of set) this.queued.set(s, { batch: new ChangeBatch(), overflow: true });
    }
    this.schedule();
  }

  /** Queue `changes` for every watching session of `volumeId` here but `origin`. */
  private deliver(volumeId: string, origin: string, changes: Partial<Changes>): void {
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
    this.schedule();
  }

  private schedule(): void {
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
