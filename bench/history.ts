/**
 * What metadata history costs (docs/METADATA.md "History"): bytes of history per create, per
 * commit of one 4 MiB block write, per rename and per unlink (of a one-block file), and the time
 * per op with and without recording, on the sqlite engine (a file, in-process) and on a real
 * redis-server. Bytes are what the store holds: sqlite's pages of the history table and its index
 * (dbstat), redis' MEMORY USAGE of the history keys. Prints a markdown table.
 * Run: `npm run bench:history [N]` (default N = 2000 ops of each kind).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { CoreMetaStore } from '../src/meta/core/store.js';
import type { MetaEngine, VolumeRecordAccess } from '../src/meta/engine.js';
import { openRedisEngine } from '../src/meta/engines/redis.js';
import { openSqliteEngine } from '../src/meta/engines/sqlite.js';
import { volumeKeys } from '../src/meta/engines/redis-keys.js';
import { ROOT_INO, type MetaStore } from '../src/meta/types.js';

const N = Number(process.argv[2] ?? 2000);
const ctx = { uid: 0, gid: 0 };
const BLOCK = 4 * 2 ** 20;
const OPS = ['create', 'commit (one 4 MiB block)', 'rename', 'unlink (one-block file)'] as const;
type Op = (typeof OPS)[number];

/** Run the four kinds of op N times each in a fresh directory; `bytes()` is read around each kind. */
async function workload(store: MetaStore, tag: string, bytes: () => Promise<number>): Promise<Record<Op, { bytes: number; us: number }>> {
  const dir = (await store.mkdir(ROOT_INO, `bench-${tag}`, 0o40755, ctx)).ino;
  const inos: number[] = new Array(N);
  const out = {} as Record<Op, { bytes: number; us: number }>;
  const step = async (op: Op, fn: (i: number) => Promise<unknown>) => {
    const b0 = await bytes();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await fn(i);
    const us = ((performance.now() - t0) * 1000) / N;
    out[op] = { bytes: ((await bytes()) - b0) / N, us };
  };
  await step('create', async (i) => { inos[i] = (await store.create(dir, `f${i}`, 0o100644, ctx)).ino; });
  const first = await store.allocIds(N, ctx);
  await step('commit (one 4 MiB block)', (i) => store.commit({ ino: inos[i], size: BLOCK, mtime: BigInt(Date.now()) * 1_000_000n,
    writes: [{ index: 0, blockId: first + i, length: BLOCK }] }, ctx));
  await step('rename', (i) => store.rename(dir, `f${i}`, dir, `g${i}`, ctx));
  await step('unlink (one-block file)', (i) => store.unlink(dir, `g${i}`, ctx));
  return out;
}

/** The same rules without recording: a CoreMetaStore straight over the engine's transactions. */
function plainStore(engine: MetaEngine & VolumeRecordAccess, volumeId: string): MetaStore {
  return new CoreMetaStore({
    transact: (fn, readOnly) => engine.transactRecords(volumeId, fn, readOnly),
    info: async () => ({ settings: (await engine.getVolume(volumeId))!, capacityBytes: 0, inodeLimit: 0 }),
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  });
}

async function redisMemory(r: Redis, volumeId: string): Promise<number> {
  const tag = volumeKeys(volumeId).tag;
  let total = 0;
  for (const pattern of [`${tag}:hz:*`, `${tag}:hv:*`, `${tag}:hg`, `${tag}:hs`]) {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      for (const k of keys) total += Number(await r.call('MEMORY', 'USAGE', k, 'SAMPLES', '0') ?? 0);
    } while (cursor !== '0');
  }
  return total;
}

type Result = { engine: string; rows: Record<Op, { bytes: number; us: number; plainUs: number }> };

async function benchSqlite(tmp: string): Promise<Result> {
  const file = join(tmp, 'meta.db');
  const engine = await openSqliteEngine({ file });
  const vol = await engine.createVolume({ name: 'hist', blockStore: { url: 'file:///tmp/unused' } });
  const peek = new Database(file, { readonly: true });
  const bytes = async () => (peek.prepare("SELECT COALESCE(SUM(pgsize), 0) AS n FROM dbstat WHERE name IN ('history', 'history_by_time')").get() as { n: number }).n;
  try {
    await workload(plainStore(engine, vol.id), 'warm', async () => 0); // JIT and caches warm for both
    const plain = await workload(plainStore(engine, vol.id), 'plain', async () => 0);
    const rec = await workload(engine.volume(vol.id), 'rec', bytes);
    return { engine: 'sqlite', rows: merge(rec, plain) };
  } finally {
    peek.close();
    await engine.close();
  }
}

async function benchRedis(tmp: string): Promise<Result> {
  const port = await freePort();
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmp], { stdio: 'ignore' });
  // commands wait while the client reconnects, until the fresh server listens
  const raw = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: null, retryStrategy: () => 50 });
  raw.on('error', () => undefined);
  try {
    await raw.ping();
    const engine = await openRedisEngine({ url: `redis://127.0.0.1:${port}` });
    const vol = await engine.createVolume({ name: 'hist', blockStore: { url: 'file:///tmp/unused' } });
    try {
      await workload(plainStore(engine, vol.id), 'warm', async () => 0); // JIT and caches warm for both
      const plain = await workload(plainStore(engine, vol.id), 'plain', async () => 0);
      const rec = await workload(engine.volume(vol.id), 'rec', () => redisMemory(raw, vol.id));
      return { engine: 'redis', rows: merge(rec, plain) };
    } finally {
      await engine.close();
    }
  } finally {
    raw.disconnect();
    server.kill('SIGTERM');
  }
}

function merge(rec: Record<Op, { bytes: number; us: number }>, plain: Record<Op, { bytes: number; us: number }>) {
  const out = {} as Result['rows'];
  for (const op of OPS) out[op] = { bytes: rec[op].bytes, us: rec[op].us, plainUs: plain[op].us };
  return out;
}

async function main(): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'flexfs-bench-history-'));
  try {
    const results = [await benchSqlite(tmp), await benchRedis(tmp)];
    console.log(`History cost, N = ${N} ops of each kind, one call at a time:\n`);
    console.log('| engine | op | history bytes/op | µs/op recording | µs/op without | extra |');
    console.log('|---|---|---:|---:|---:|---:|');
    for (const r of results) {
      for (const op of OPS) {
        const x = r.rows[op];
        console.log(`| ${r.engine} | ${op} | ${Math.round(x.bytes)} | ${x.us.toFixed(0)} | ${x.plainUs.toFixed(0)} | ${(((x.us - x.plainUs) / x.plainUs) * 100).toFixed(0)}% |`);
      }
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
