import type { EventEmitter } from 'node:events';
import { Semaphore } from '../store/semaphore.js';

/** The request was not admitted: too many in flight and queued, or the client left while queued. */
export class AdmissionRefused extends Error {
  constructor(readonly reason: 'busy' | 'client-gone', what: string) {
    super(reason === 'busy' ? `proxy busy: too many ${what} in flight and queued; retry later or elsewhere` : 'client closed the request');
  }
}

/**
 * Admission of one kind of request (GETs, PUTs) that holds memory while it runs: at most `limit`
 * run at once, each from its admission until its response closes; up to `maxQueued` more wait in
 * arrival order holding nothing (a PUT's body is not read while it waits), and beyond that a
 * request is refused at once (503: clients try another proxy or the bucket).
 */
export class Admission {
  private readonly slots: Semaphore;
  private peakValue = 0;

  /** `what` names the requests in messages ("GETs", "PUTs"). */
  constructor(limit: number, readonly maxQueued: number, private readonly what: string) {
    this.slots = new Semaphore(limit);
    if (!Number.isInteger(maxQueued) || maxQueued < 0) throw new Error(`${what} queue length must be a whole number ≥ 0, got ${maxQueued}`);
  }

  /**
   * Admit one request whose response is `res`: resolves once it may proceed (its slot is given
   * back when `res` closes), or throws AdmissionRefused when the queue is full or the client left.
   */
  async admit(res: EventEmitter): Promise<void> {
    if (this.slots.inUse >= this.slots.limit && this.slots.waiting >= this.maxQueued) throw new AdmissionRefused('busy', this.what);
    const gone = new AbortController();
    const onClose = () => gone.abort(new AdmissionRefused('client-gone', this.what));
    res.once('close', onClose);
    let release: () => void;
    try {
      release = await this.slots.acquire(gone.signal);
    } finally {
      res.off('close', onClose);
    }
    if (gone.signal.aborted) { release(); throw new AdmissionRefused('client-gone', this.what); }
    this.peakValue = Math.max(this.peakValue, this.slots.inUse);
    res.once('close', release);
  }

  /** Requests holding a slot now, waiting for one, and the most ever holding one at once. */
  get inFlight(): number { return this.slots.inUse; }
  get queued(): number { return this.slots.waiting; }
  get peak(): number { return this.peakValue; }
}
