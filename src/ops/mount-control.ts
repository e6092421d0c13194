import { createServer, type Server, type Socket } from 'node:net';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { frameCacheName } from '../cache/disk.js';
import type { DiskFrameCache } from '../cache/disk.js';
import type { MemoryBlockCache } from '../cache/memory.js';
import { OPS_DEFAULTS } from '../config/defaults.js';
import type { Attr, BlockRef } from '../meta/types.js';
import type { ObjectStore } from '../store/types.js';
import type { BlockIO } from '../vfs/blockio.js';
import type { OpCounts } from './op-metrics.js';
import { forEachLimited } from './scan.js';

/**
 * The mount's control channel for the `flexfs` operator CLI (info, warmup, evict, stats): a unix
 * socket, 0600 in the mount's 0700 run folder, whose path the status file records. One request per
 * connection, newline-delimited JSON both ways: the request, then zero or more `{"progress": …}`
 * lines, then `{"ok": true, "result": …}` or `{"ok": false, "error": "…"}`. The CLI asks the mount
 * process itself, never its own mountpoint from inside it; blocks go through the core's BlockIO,
 * so warmup fills exactly the caches reads use.
 */

/** What the control channel needs of the mount. */
export interface ControlTarget {
  volumeId: string;
  blockSize: number;
  committedBlocks(ino: number): Promise<{ attr: Attr; blocks: BlockRef[] }>;
  io: BlockIO;
  memory: MemoryBlockCache;
  disk?: DiskFrameCache;
  /** The block store the mount reads through (HEAD gives an object's stored size). */
  store: ObjectStore;
  dirtyBytes: number;
  counts: OpCounts;
}

export type ControlRequest =
  | { op: 'info'; ino: number }
  | { op: 'warmup'; inos: number[]; concurrency?: number }
  | { op: 'evict'; inos: number[] }
  | { op: 'stats' };

export interface BlockInfo {
  index: number;
  blockId: number;
  key: string;
  /** Raw (decoded) bytes of the block. */
  length: number;
  /** Bytes of the stored object (compressed, encrypted, framed); null when the store has no such object. */
  storedSize: number | null;
  inMemory: boolean;
  onDisk: boolean;
}

export interface InodeInfo {
  ino: number; type: Attr['type']; mode: number; size: number; nlink: number; uid: number; gid: number;
  blockSize: number;
  blocks: BlockInfo[];
}

export interface WarmupProgress { files: number; blocks: number; totalBlocks: number; bytes: number; failed: number }
export interface WarmupResult extends WarmupProgress { errors: string[] }
export interface EvictResult { files: number; blocks: number }

/** Counters a `stats` request returns; the CLI prints the differences per interval. */
export interface MountStats {
  at: number;
  ops: Record<string, number>;
  bytesRead: number;
  bytesWritten: number;
  blockGets: number;
  blockPuts: number;
  memHits: number;
  diskHits: number;
  dirtyBytes: number;
  memCacheBytes: number;
  diskCacheBytes: number;
}

const MAX_WARMUP_ERRORS = 20;

export class MountControl {
  constructor(private readonly t: ControlTarget) {}

  async info(ino: number): Promise<InodeInfo> {
    const { attr, blocks } = await this.t.committedBlocks(ino);
    const out: BlockInfo[] = [];
    await forEachLimited(blocks, OPS_DEFAULTS.warmupConcurrency, async (b) => {
      const key = this.t.io.key(ino, b.index, b.blockId);
      const head = await this.t.store.head(key);
      out.push({
        index: b.index, blockId: b.blockId, key, length: b.length, storedSize: head ? head.size : null,
        inMemory: this.t.memory.has(b.blockId), onDisk: this.t.disk?.has(frameCacheName(this.t.volumeId, b.blockId)) ?? false,
      });
    });
    out.sort((a, b) => a.index - b.index);
    return { ino: attr.ino, type: attr.type, mode: attr.mode, size: attr.size, nlink: attr.nlink, uid: attr.uid, gid: attr.gid,
      blockSize: this.t.blockSize, blocks: out };
  }

  /** Fetch every committed block of the files into the caches, at most `concurrency` at once. */
  async warmup(inos: number[], concurrency: number, onProgress: (p: WarmupProgress) => void): Promise<WarmupResult> {
    const todo: { ino: number; ref: BlockRef }[] = [];
    for (const ino of inos) for (const ref of (await this.t.committedBlocks(ino)).blocks) todo.push({ ino, ref });
    const r: WarmupResult = { files: inos.length, blocks: 0, totalBlocks: todo.length, bytes: 0, failed: 0, errors: [] };
    onProgress({ ...r });
    await forEachLimited(todo, concurrency, async ({ ino, ref }) => {
      try {
        const data = await this.t.io.fetch(ino, ref.index, ref.blockId);
        r.blocks++;
        r.bytes += data.length;
      } catch (e) {
        r.failed++;
        if (r.errors.length < MAX_WARMUP_ERRORS) r.errors.push(`inode ${ino} block ${ref.index}: ${(e as Error).message}`);
      }
      onProgress({ files: r.files, blocks: r.blocks, totalBlocks: r.totalBlocks, bytes: r.bytes, failed: r.failed });
    });
    return r;
  }

  /** Drop the files' blocks from the memory and disk caches (the bucket keeps them). */
  async evict(inos: number[]): Promise<EvictResult> {
    let blocks = 0;
    for (const ino of inos) {
      for (const ref of (await this.t.committedBlocks(ino)).blocks) {
        const name = frameCacheName(this.t.volumeId, ref.blockId);
        const cached = this.t.memory.has(ref.blockId) || (this.t.disk?.has(name) ?? false);
        this.t.memory.drop(ref.blockId);
        if (this.t.disk) await this.t.disk.drop(name);
        if (cached) blocks++;
      }
    }
    return { files: inos.length, blocks };
  }

  stats(): MountStats {
    const s = this.t.io.stats;
    return {
      at: Date.now(), ops: { ...this.t.counts.ops }, bytesRead: this.t.counts.bytesRead, bytesWritten: this.t.counts.bytesWritten,
      blockGets: s.gets, blockPuts: s.puts, memHits: s.memHits, diskHits: s.diskHits, dirtyBytes: this.t.dirtyBytes,
      memCacheBytes: this.t.memory.bytes, diskCacheBytes: this.t.disk?.bytes ?? 0,
    };
  }

  /** Serve one request on `sock`; never throws (errors are answered). */
  async serve(req: ControlRequest, send: (line: object) => void): Promise<void> {
    try {
      switch (req?.op) {
        case 'info': send({ ok: true, result: await this.info(inoOf(req.ino)) }); break;
        case 'warmup': {
          const concurrency = req.concurrency ?? OPS_DEFAULTS.warmupConcurrency;
          if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`concurrency ${String(req.concurrency)} must be a positive integer`);
          const result = await this.warmup(inosOf(req.inos), concurrency, (progress) => send({ progress }));
          send({ ok: true, result });
          break;
        }
        case 'evict': send({ ok: true, result: await this.evict(inosOf(req.inos)) }); break;
        case 'stats': send({ ok: true, result: this.stats() }); break;
        default: throw new Error(`unknown request ${JSON.stringify((req as { op?: unknown })?.op)}: expected info, warmup, evict or stats`);
      }
    } catch (e) {
      send({ ok: false, error: e instanceof Error ? e.message : String(e) });
    }
  }
}

function inoOf(v: unknown): number {
  if (!Number.isSafeInteger(v) || (v as number) < 1) throw new Error(`inode ${JSON.stringify(v)} is not an inode number`);
  return v as number;
}

function inosOf(v: unknown): number[] {
  if (!Array.isArray(v)) throw new Error('inos must be a list of inode numbers');
  return v.map(inoOf);
}

/** Listen on `path` (0600); stop() closes the socket, ends open requests and removes the file. */
export async function startMountControl(control: MountControl, path: string): Promise<{ path: string; stop(): Promise<void> }> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await rm(path, { force: true }); // a stale socket of a process with our pid that died
  const open = new Set<Socket>();
  const server: Server = createServer((sock) => {
    open.add(sock);
    sock.on('close', () => open.delete(sock));
    sock.on('error', () => sock.destroy());
    const lines = createInterface({ input: sock });
    lines.once('line', (line) => {
      lines.close();
      let req: ControlRequest;
      try { req = JSON.parse(line) as ControlRequest; } catch {
        sock.end(JSON.stringify({ ok: false, error: 'request is not JSON' }) + '\n');
        return;
      }
      const send = (o: object) => { if (!sock.destroyed) sock.write(JSON.stringify(o) + '\n'); };
      void control.serve(req, send).then(() => sock.end());
    });
  });
  await new Promise<void>((ok, fail) => { server.once('error', fail); server.listen(path, () => ok()); });
  server.unref();
  await chmod(path, 0o600);
  return {
    path,
    async stop() {
      for (const s of open) s.destroy();
      await new Promise<void>((ok) => server.close(() => ok()));
      await rm(path, { force: true });
    },
  };
}
