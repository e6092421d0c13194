/**
 * The sqlite worker thread: owns one SqliteEngine (better-sqlite3 connection, core rules, group
 * commit) so that its synchronous statements and WAL fsyncs never run on the mount's event loop.
 * Receives WorkerCall messages, answers each with a WorkerReply (see sqlite-worker-protocol.ts).
 * Calls are handed to the engine as they arrive; the engine's group committer batches the
 * mutations that arrived together into one transaction.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { MetaStore } from '../types.js';
import { SqliteEngine, type SqliteEngineOptions } from './sqlite.js';
import {
  ENGINE_METHODS, STORE_METHODS, encodeError, toBuffer, type RefsPage, type WorkerCall, type WorkerReply,
} from './sqlite-worker-protocol.js';

const REFS_PAGE = 1000;

const port = parentPort;
if (!port) throw new Error('the sqlite worker must run in a worker thread');

const storeMethods = new Set<string>(STORE_METHODS);
const engineMethods = new Set<string>(ENGINE_METHODS);

function openEngine(): SqliteEngine | undefined {
  try {
    const e = new SqliteEngine({ ...(workerData as SqliteEngineOptions), gatherEvents: true });
    port!.postMessage({ ready: true, durability: e.durability } satisfies WorkerReply);
    return e;
  } catch (e) {
    port!.postMessage({ ready: false, error: encodeError(e) } satisfies WorkerReply);
    port!.close();
    return undefined;
  }
}

const opened = openEngine();
const engine = opened as SqliteEngine;
const stores = new Map<string, MetaStore>();
function store(vol: string, at: number | undefined): MetaStore {
  const key = at === undefined ? vol : `${vol}@${at}`;
  let s = stores.get(key);
  if (!s) { s = engine.volume(vol, at); stores.set(key, s); }
  return s;
}

const iterators = new Map<number, AsyncIterator<RefsPage['items'][number]>>();
let nextIter = 1;

async function refsPage(iter: number): Promise<RefsPage> {
  const it = iterators.get(iter);
  if (!it) return { iter, items: [], done: true };
  const items: RefsPage['items'] = [];
  while (items.length < REFS_PAGE) {
    const r = await it.next();
    if (r.done) { iterators.delete(iter); return { iter, items, done: true }; }
    items.push(r.value);
  }
  return { iter, items, done: false };
}

async function dispatch(call: WorkerCall): Promise<unknown> {
  const args = call.args.map(toBuffer);
  if (call.vol !== undefined) {
    if (!storeMethods.has(call.method)) throw new Error(`sqlite worker: unknown volume method ${call.method}`);
    const s = store(call.vol, call.at) as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    return s[call.method](...args);
  }
  if (engineMethods.has(call.method)) {
    if (call.method === 'deleteVolume') stores.clear(); // the stores cache volume settings
    const e = engine as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    return e[call.method](...args);
  }
  switch (call.method) {
    case 'refsOpen': {
      const iter = nextIter++;
      iterators.set(iter, engine.referencedBlocks(String(args[0]))[Symbol.asyncIterator]());
      return refsPage(iter);
    }
    case 'refsNext': return refsPage(Number(args[0]));
    case 'commitStats': return engine.commitStats();
    default: throw new Error(`sqlite worker: unknown method ${call.method}`);
  }
}

/** An ArrayBuffer that only `buf` uses, so it can be moved to the loop instead of copied. */
function transferable(v: unknown): ArrayBuffer[] {
  if (!Buffer.isBuffer(v)) return [];
  const ab = v.buffer;
  return ab instanceof ArrayBuffer && v.byteOffset === 0 && v.byteLength === ab.byteLength ? [ab] : [];
}

/** Calls not answered yet: close waits for them (drain, then close). */
const inflight = new Set<Promise<unknown>>();

async function closeEngine(): Promise<void> {
  while (inflight.size > 0) await Promise.allSettled([...inflight]);
  await engine.close();
}

if (opened) port.on('message', async (call: WorkerCall) => {
  let reply: WorkerReply;
  let transfer: ArrayBuffer[] = [];
  const work = call.method === 'close' ? closeEngine() : dispatch(call);
  if (call.method !== 'close') {
    inflight.add(work);
    void work.catch(() => undefined).finally(() => inflight.delete(work));
  }
  try {
    const value = await work;
    reply = { id: call.id, ok: true, value };
    transfer = transferable(value);
  } catch (e) {
    reply = { id: call.id, ok: false, error: encodeError(e) };
  }
  try {
    port.postMessage(reply, transfer);
  } catch (e) { // a value structured clone cannot copy: a bug, answered as one
    port.postMessage({ id: call.id, ok: false, error: encodeError(e) } satisfies WorkerReply);
  }
  if (call.method === 'close') port.close();
});
