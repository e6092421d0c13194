/**
 * Codec worker thread: encodes/decodes whole blocks off the main thread. Receives the volume's
 * compression and data key once (workerData), then jobs { id, op, key, data: ArrayBuffer }; answers
 * { id, ok: true, data: ArrayBuffer } (transferred) or { id, ok: false, message, corrupt }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { decodeFrame, encodeFrame, type FrameOptions } from './frame.js';
import { CodecError } from './types.js';
import type { WorkerJob, WorkerReply, WorkerSetup } from './pool.js';

const setup = workerData as WorkerSetup;
const opts: FrameOptions = {
  compression: setup.compression,
  dataKey: setup.dataKey ? Buffer.from(setup.dataKey) : undefined,
};

/** An ArrayBuffer holding exactly `buf`, safe to transfer (copies when `buf` shares its memory). */
function ownedArrayBuffer(buf: Buffer): ArrayBuffer {
  if (buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength && buf.buffer instanceof ArrayBuffer) {
    return buf.buffer;
  }
  const ab = new ArrayBuffer(buf.byteLength);
  new Uint8Array(ab).set(buf);
  return ab;
}

const port = parentPort;
if (!port) throw new Error('codec worker must run in a worker thread');
port.on('message', (job: WorkerJob) => {
  let reply: WorkerReply;
  let transfer: ArrayBuffer[] = [];
  try {
    const input = Buffer.from(job.data);
    const out = job.op === 'encode' ? encodeFrame(job.key, input, opts, job.compress) : decodeFrame(job.key, input, opts.dataKey);
    const data = ownedArrayBuffer(out);
    reply = { id: job.id, ok: true, data };
    transfer = [data];
  } catch (e) {
    reply = { id: job.id, ok: false, message: e instanceof Error ? e.message : String(e), corrupt: e instanceof CodecError };
  }
  port.postMessage(reply, transfer);
});
