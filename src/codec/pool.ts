/**
 * A small worker_threads pool for whole-block encode/decode. Each worker runs one job at a time;
 * jobs wait in a FIFO queue. The queue is bounded: when it is full, run() waits for room, which
 * pushes back on the caller instead of growing memory. Workers are spawned lazily and are unref'd
 * while idle so an idle codec never keeps the process alive.
 */
import { Worker } from 'node:worker_threads';
import { workerEntry } from '../util/worker-entry.js';
import type { Compression } from './frame.js';
import { CodecError } from './types.js';

export interface WorkerSetup {
  compression: Compression;
  /** Copy of the data key (never logged; lives only in the worker's memory). */
  dataKey?: Uint8Array;
}

export interface WorkerJob {
  id: number;
  op: 'encode' | 'decode';
  key: string;
  data: ArrayBuffer;
  /** encode: the caller already sampled the block (frame.ts worthCompressing). */
  compress?: boolean;
}

export type WorkerReply =
  | { id: number; ok: true; data: ArrayBuffer }
  | { id: number; ok: false; message: string; corrupt: boolean };

interface PendingJob {
  id: number;
  op: 'encode' | 'decode';
  key: string;
  input: Uint8Array;
  compress?: boolean;
  /** The caller hands `input` over: when it owns its whole ArrayBuffer, that moves without a copy. */
  transfer?: boolean;
  resolve(out: Buffer): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  job: PendingJob | null;
}

export interface CodecPoolOptions {
  size: number;
  /** Jobs allowed to wait for a worker before run() itself waits. */
  maxQueue: number;
  setup: WorkerSetup;
}

export class CodecWorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: PendingJob[] = [];
  private readonly roomWaiters: Array<() => void> = [];
  private nextId = 1;
  private closed = false;

  constructor(private readonly opts: CodecPoolOptions) {
    if (!Number.isInteger(opts.size) || opts.size < 1) throw new RangeError(`codec pool size must be a positive integer, got ${opts.size}`);
  }

  async run(op: 'encode' | 'decode', key: string, input: Uint8Array, compress?: boolean, transfer = false): Promise<Buffer> {
    while (!this.closed && this.queue.length >= this.opts.maxQueue) {
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    }
    if (this.closed) throw new Error('block codec is closed');
    return new Promise<Buffer>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, op, key, input, compress, transfer, resolve, reject });
      this.pump();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('block codec is closed'));
    for (const wake of this.roomWaiters.splice(0)) wake();
    const slots = this.slots.splice(0);
    for (const slot of slots) {
      slot.job?.reject(new Error('block codec is closed'));
      slot.job = null;
    }
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private pump(): void {
    while (!this.closed && this.queue.length > 0) {
      let slot = this.slots.find((s) => s.job === null);
      if (!slot) {
        if (this.slots.length >= this.opts.size) return;
        slot = this.spawn();
      }
      const job = this.queue.shift() as PendingJob;
      this.roomWaiters.shift()?.();
      this.dispatch(slot, job);
    }
  }

  private dispatch(slot: Slot, job: PendingJob): void {
    // Unless the caller handed its buffer over and that buffer is the whole of its ArrayBuffer,
    // copy into a fresh ArrayBuffer we own and transfer that: the caller keeps its buffer
    // untouched, and Buffers from Node's shared pool could not be transferred anyway. (Fresh
    // memory is not free: on a VM each new page faults, so a copy avoided is worth having.)
    const input = job.input;
    const whole = job.transfer && input.buffer instanceof ArrayBuffer && input.byteOffset === 0 && input.byteLength === input.buffer.byteLength;
    let data: ArrayBuffer;
    if (whole) data = input.buffer as ArrayBuffer;
    else {
      data = new ArrayBuffer(input.byteLength);
      new Uint8Array(data).set(input);
    }
    slot.job = job;
    slot.worker.ref();
    const msg: WorkerJob = { id: job.id, op: job.op, key: job.key, data, compress: job.compress };
    slot.worker.postMessage(msg, [data]);
  }

  private spawn(): Slot {
    const { filename, options } = workerEntry(import.meta.url, 'worker');
    const setup: WorkerSetup = {
      compression: this.opts.setup.compression,
      dataKey: this.opts.setup.dataKey ? new Uint8Array(this.opts.setup.dataKey) : undefined,
    };
    const worker = new Worker(filename, { ...options, workerData: setup });
    const slot: Slot = { worker, job: null };
    worker.unref();
    worker.on('message', (reply: WorkerReply) => {
      const job = slot.job;
      if (!job || job.id !== reply.id) return;
      slot.job = null;
      worker.unref();
      if (reply.ok) job.resolve(Buffer.from(reply.data));
      else job.reject(reply.corrupt ? new CodecError(reply.message, { key: job.key }) : new Error(reply.message));
      this.pump();
    });
    const fail = (err: Error): void => {
      const at = this.slots.indexOf(slot);
      if (at < 0) return;
      this.slots.splice(at, 1);
      const job = slot.job;
      slot.job = null;
      job?.reject(new Error(`codec worker failed: ${err.message}`, { cause: err }));
      void worker.terminate();
      this.pump();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
    this.slots.push(slot);
    return slot;
  }
}
