import type { Command } from 'commander';
import { lstat, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { OPS_DEFAULTS } from '../../config/defaults.js';
import { formatSize } from '../../config/sizes.js';
import type { EvictResult, InodeInfo, MountStats, WarmupProgress, WarmupResult } from '../../ops/mount-control.js';
import type { MountStatus } from '../../ops/mount-telemetry.js';
import { formatTable, parseDuration } from '../shared/table.js';
import { ask, mountOf, statusOfMountpoint, ToolError } from './mount-client.js';

/**
 * flexfs info / warmup / stats: the operator tools a mount serves on its control socket
 * (ops/mount-control.ts). Exit codes: 0 done, 1 a runtime failure (not a flexfs mount, blocks
 * that could not be fetched), 2 a usage error.
 */

type Out = { write(s: string): unknown };

export function registerTools(program: Command): void {
  program.command('info <paths...>')
    .description('a file\'s inode, type, size, nlink and blocks (index, block id, stored object key, raw and stored size, cached), asked of the mount that serves it')
    .option('--json', 'machine-readable output')
    .action((paths: string[], f: { json?: boolean }) => run(() => infoCommand(paths, f)));
  program.command('warmup <paths...>')
    .description('fetch the blocks of files (directories: every file below) into the mount\'s memory and disk caches, with progress on stderr; --evict drops them from the caches instead')
    .option('--evict', 'drop the blocks from the caches instead of fetching them')
    .option('--concurrency <n>', 'blocks fetched at once', String(OPS_DEFAULTS.warmupConcurrency))
    .option('--json', 'print the result as JSON')
    .action((paths: string[], f: WarmupFlags) => run(() => warmupCommand(paths, f)));
  program.command('stats [mountpoint]')
    .description('a live per-second view of a mount: operations by kind, read/write throughput, block cache hits, block fetches/uploads, dirty bytes; until Ctrl-C (the only mount when none named)')
    .option('--count <n>', 'print this many lines, then exit')
    .option('--interval <duration>', 'seconds between lines (s/m)', `${OPS_DEFAULTS.statsIntervalSeconds}s`)
    .option('--json', 'one JSON object per line')
    .action((mp: string | undefined, f: StatsFlags) => run(() => statsCommand(mp, f)));
}

function run(fn: () => Promise<number>): void {
  fn().then((code) => process.exit(code), (e: unknown) => {
    process.stderr.write(`flexfs: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof UsageError ? 2 : 1);
  });
}

class UsageError extends Error {}

// ------------------------------------------------------------------ info

export async function infoCommand(paths: string[], f: { json?: boolean }, out: Out = process.stdout): Promise<number> {
  const infos: (InodeInfo & { path: string })[] = [];
  for (const path of paths) {
    const mount = await mountOf(path);
    const ino = (await lstat(path)).ino;
    infos.push({ path: resolve(path), ...await ask<InodeInfo>(mount, { op: 'info', ino }) });
  }
  out.write(f.json ? JSON.stringify(infos, null, 2) + '\n' : infos.map(formatInfo).join('\n'));
  return 0;
}

export function formatInfo(i: InodeInfo & { path: string }): string {
  const head = `${i.path}\n  inode ${i.ino}, ${i.type}, size ${i.size} (${formatSize(i.size)}), nlink ${i.nlink}, mode ${(i.mode & 0o7777).toString(8).padStart(4, '0')}, uid ${i.uid}, gid ${i.gid}\n`;
  if (i.type !== 'file') return head;
  const stored = i.blocks.reduce((n, b) => n + (b.storedSize ?? 0), 0);
  const lines = `  ${i.blocks.length} blocks of up to ${formatSize(i.blockSize)}, ${stored} bytes stored\n`;
  if (!i.blocks.length) return head + lines;
  const rows = i.blocks.map((b) => [b.index, b.blockId, b.length, b.storedSize ?? 'MISSING',
    [b.inMemory ? 'memory' : '', b.onDisk ? 'disk' : ''].filter(Boolean).join('+') || '-', b.key]);
  return head + lines + formatTable(['INDEX', 'BLOCK', 'LENGTH', 'STORED', 'CACHED', 'KEY'], rows).replace(/^/gm, '  ');
}

// ------------------------------------------------------------------ warmup

interface WarmupFlags { evict?: boolean; concurrency: string; json?: boolean }

/** The regular files at or under `path` (not following symlinks, not leaving its mount), by inode. */
async function filesUnder(path: string, device: number, into: Set<number>): Promise<void> {
  const st = await lstat(path);
  if (st.dev !== device) return;
  if (st.isFile()) into.add(st.ino);
  else if (st.isDirectory()) for (const name of await readdir(path)) await filesUnder(join(path, name), device, into);
}

export async function warmupCommand(paths: string[], f: WarmupFlags, out: Out = process.stdout,
  err: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr): Promise<number> {
  const concurrency = Number(f.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency "${f.concurrency}" must be a positive integer`);
  // Group the files by the mount that serves them (one request per mount).
  const byMount = new Map<string, { mount: MountStatus; inos: Set<number> }>();
  for (const path of paths) {
    const mount = await mountOf(path);
    const group = byMount.get(mount.mountpoint) ?? { mount, inos: new Set<number>() };
    byMount.set(mount.mountpoint, group);
    await filesUnder(path, (await lstat(path)).dev, group.inos);
  }
  const results: ((WarmupResult | EvictResult) & { mountpoint: string })[] = [];
  for (const { mount, inos } of byMount.values()) {
    if (f.evict) {
      results.push({ mountpoint: mount.mountpoint, ...await ask<EvictResult>(mount, { op: 'evict', inos: [...inos] }) });
      continue;
    }
    const progress = progressLine(err);
    const r = await ask<WarmupResult>(mount, { op: 'warmup', inos: [...inos], concurrency }, (p) => progress.update(p as WarmupProgress));
    progress.done(r);
    results.push({ mountpoint: mount.mountpoint, ...r });
  }
  if (f.json) out.write(JSON.stringify(results, null, 2) + '\n');
  else for (const r of results) {
    if ('totalBlocks' in r) {
      out.write(`${r.mountpoint}: warmed ${r.blocks} of ${r.totalBlocks} blocks (${formatSize(r.bytes)}) of ${r.files} files${r.failed ? `; ${r.failed} FAILED` : ''}\n`);
      for (const e of r.errors) out.write(`  ${e}\n`);
    } else {
      out.write(`${r.mountpoint}: evicted ${r.blocks} cached blocks of ${r.files} files\n`);
    }
  }
  return results.some((r) => 'failed' in r && r.failed > 0) ? 1 : 0;
}

/** Progress on stderr: redrawn in place on a terminal (≤10×/s), else a line at most once a second. */
function progressLine(err: NodeJS.WritableStream & { isTTY?: boolean }) {
  let last = 0;
  const text = (p: WarmupProgress) => `warmup: ${p.blocks}/${p.totalBlocks} blocks, ${formatSize(p.bytes)}${p.failed ? `, ${p.failed} failed` : ''}`;
  return {
    update(p: WarmupProgress) {
      const now = Date.now();
      if (now - last < (err.isTTY ? 100 : 1000)) return;
      last = now;
      err.write(err.isTTY ? `\r${text(p)}\x1b[K` : `${text(p)}\n`);
    },
    done(p: WarmupProgress) { err.write(err.isTTY ? `\r${text(p)}\x1b[K\n` : `${text(p)}\n`); },
  };
}

// ------------------------------------------------------------------ stats

interface StatsFlags { count?: string; interval: string; json?: boolean }

/** Operations shown in columns of their own; the rest add up in "other". */
const OP_COLUMNS = ['lookup', 'getattr', 'open', 'read', 'write', 'create', 'flush'] as const;

export async function statsCommand(mountpoint: string | undefined, f: StatsFlags, out: Out = process.stdout): Promise<number> {
  const count = f.count === undefined ? Infinity : Number(f.count);
  if (f.count !== undefined && (!Number.isInteger(count) || count < 1)) throw new UsageError(`--count "${f.count}" must be a positive integer`);
  let intervalS: number;
  try { intervalS = parseDuration(f.interval); } catch (e) { throw new UsageError(`--interval: ${(e as Error).message}`); }
  if (intervalS < 1) throw new UsageError(`--interval ${f.interval}: must be at least 1s`);
  const mount = mountpoint ? await statusOfMountpoint(resolve(mountpoint)).catch(async (e: unknown) => {
    // A path inside a mount names that mount too.
    try { return await mountOf(mountpoint); } catch { throw e; }
  }) : await onlyMount();
  let prev = await ask<MountStats>(mount, { op: 'stats' });
  for (let line = 0; line < count; line++) {
    await new Promise((r) => setTimeout(r, intervalS * 1000));
    const cur = await ask<MountStats>(mount, { op: 'stats' });
    const d = statsDelta(prev, cur);
    if (f.json) out.write(JSON.stringify(d) + '\n');
    else {
      if (line % 20 === 0) out.write(STATS_HEADER);
      out.write(formatStatsLine(d));
    }
    prev = cur;
  }
  return 0;
}

async function onlyMount(): Promise<MountStatus> {
  const { liveMountStatuses } = await import('../../ops/status.js');
  const all = await liveMountStatuses();
  if (all.length !== 1) {
    throw new UsageError(all.length ? `${all.length} flexfs mounts (${all.map((m) => m.mountpoint).join(', ')}): name one, flexfs stats MOUNTPOINT` : 'no flexfs mount of this user is running');
  }
  return statusOfMountpoint(all[0].mountpoint);
}

/** One interval's rates: per second, from two counter snapshots. */
export interface StatsLine {
  at: number;
  seconds: number;
  opsPerSecond: Record<string, number>;
  totalOpsPerSecond: number;
  readBytesPerSecond: number;
  writtenBytesPerSecond: number;
  /** Block reads served by the memory or disk cache, of all block reads in the interval (null: none). */
  cacheHitPercent: number | null;
  blockGetsPerSecond: number;
  blockPutsPerSecond: number;
  dirtyBytes: number;
  memCacheBytes: number;
  diskCacheBytes: number;
}

export function statsDelta(a: MountStats, b: MountStats): StatsLine {
  const s = Math.max(0.001, (b.at - a.at) / 1000);
  const rate = (x: number) => Math.round((x / s) * 10) / 10;
  const ops: Record<string, number> = {};
  let total = 0;
  for (const [op, n] of Object.entries(b.ops)) {
    const dn = n - (a.ops[op] ?? 0);
    if (dn > 0) { ops[op] = rate(dn); total += dn; }
  }
  const hits = (b.memHits - a.memHits) + (b.diskHits - a.diskHits);
  const reads = hits + (b.blockGets - a.blockGets);
  return {
    at: b.at, seconds: s, opsPerSecond: ops, totalOpsPerSecond: rate(total),
    readBytesPerSecond: rate(b.bytesRead - a.bytesRead), writtenBytesPerSecond: rate(b.bytesWritten - a.bytesWritten),
    cacheHitPercent: reads > 0 ? Math.round((hits / reads) * 1000) / 10 : null,
    blockGetsPerSecond: rate(b.blockGets - a.blockGets), blockPutsPerSecond: rate(b.blockPuts - a.blockPuts),
    dirtyBytes: b.dirtyBytes, memCacheBytes: b.memCacheBytes, diskCacheBytes: b.diskCacheBytes,
  };
}

const STATS_HEADER = ['time    ', ...OP_COLUMNS.map((c) => c.padStart(7)), '  other', ' read/s', 'write/s', '  hit%', ' gets/s', ' puts/s', '  dirty', 'memcache', 'diskcache'].join(' ') + '\n';

function formatStatsLine(d: StatsLine): string {
  const known = new Set<string>(OP_COLUMNS);
  const other = Object.entries(d.opsPerSecond).filter(([op]) => !known.has(op)).reduce((n, [, v]) => n + v, 0);
  const n = (v: number) => String(Math.round(v)).padStart(7);
  const size = (v: number, w = 7) => formatSize(Math.round(v)).replace(' ', '').padStart(w);
  return [new Date(d.at).toTimeString().slice(0, 8), ...OP_COLUMNS.map((c) => n(d.opsPerSecond[c] ?? 0)), n(other),
    size(d.readBytesPerSecond), size(d.writtenBytesPerSecond), (d.cacheHitPercent === null ? '-' : d.cacheHitPercent.toFixed(0)).padStart(6),
    n(d.blockGetsPerSecond), n(d.blockPutsPerSecond), size(d.dirtyBytes), size(d.memCacheBytes, 8), size(d.diskCacheBytes, 9)].join(' ') + '\n';
}

