import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InodeInfo } from '../../src/ops/mount-control.js';
import type { StatsLine } from '../../src/cli/flexfs/tools.js';
import { ensureBuilt, REPO_ROOT } from '../harness/build.js';
import type { StartedMount } from '../harness/mount.js';
import { runCommand } from '../harness/run-command.js';
import { buildMountClient, mountLocal, workDir } from '../mount/helpers.js';

const FLEXFS_MAIN = 'dist/src/cli/flexfs/main.js';
const MiB = 1024 * 1024;

/**
 * flexfs info / warmup / stats against a real --local mount (its own process), through the
 * mount's control socket: block keys and stored sizes checked against the block files on disk,
 * evict and warmup judged by what the caches hold afterwards, stats by a reader running meanwhile.
 */
describe('flexfs info, warmup, stats', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let m: StartedMount | undefined;
  let mp: string;
  let local: string;
  let home: string;
  let cacheDir: string;
  const big = Buffer.alloc(9 * MiB + 12345);
  for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i * 2654435761 >>> 0, i);

  const flexfs = (args: string[]) => runCommand(process.execPath, [join(REPO_ROOT, FLEXFS_MAIN), ...args], { env: { FLEXFS_HOME: home }, timeoutMs: 120_000 });
  const info = async (path: string): Promise<InodeInfo> => {
    const r = await flexfs(['info', path, '--json']);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as InodeInfo[])[0];
  };

  beforeAll(async () => {
    await buildMountClient();
    await ensureBuilt([FLEXFS_MAIN]);
    dir = await workDir('flexfs-tools-');
    mp = join(dir.path, 'mnt');
    local = join(dir.path, 'local');
    home = join(dir.path, 'home');
    cacheDir = join(dir.path, 'cache');
    m = await mountLocal(mp, { local, home, args: ['--diskFolder', cacheDir] });
    await writeFile(join(mp, 'big'), big);
    await mkdir(join(mp, 'sub'));
    await writeFile(join(mp, 'sub', 'small'), 'hello tools\n');
  }, 180_000);

  afterAll(async () => {
    await m?.stop();
    await dir?.cleanup();
  });

  it('info: inode, size, nlink and every block with its key and stored size', async () => {
    const st = await stat(join(mp, 'big'));
    const i = await info(join(mp, 'big'));
    expect(i).toMatchObject({ ino: st.ino, type: 'file', size: big.length, nlink: 1, blockSize: 4 * MiB });
    expect(i.blocks.map((b) => [b.index, b.length])).toEqual([[0, 4 * MiB], [1, 4 * MiB], [2, MiB + 12345]]);
    for (const b of i.blocks) {
      expect(b.key).toMatch(new RegExp(`/blocks/[0-9a-f]{2}/${st.ino}_${b.index}_${b.blockId}$`));
      // The stored object is the file under --local's blocks/ folder: its size is what info says.
      expect(b.storedSize).toBe((await stat(join(local, 'blocks', b.key))).size);
    }
    const text = await flexfs(['info', join(mp, 'big'), join(mp, 'sub')]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`inode ${st.ino}, file, size ${big.length}`);
    expect(text.stdout).toMatch(/3 blocks of up to 4\.0 MiB/);
    expect(text.stdout).toMatch(/INDEX\s+BLOCK\s+LENGTH\s+STORED\s+CACHED\s+KEY/);
    expect(text.stdout).toMatch(/inode \d+, dir, /);

    const outside = await flexfs(['info', dir.path]);
    expect(outside.code).toBe(1);
    expect(outside.stderr).toMatch(/not on a FUSE mount/);
  }, 120_000);

  it('warmup --evict empties the caches of a tree, warmup fills them again, with progress', async () => {
    const evicted = await flexfs(['warmup', '--evict', mp]);
    expect(evicted.code, evicted.stderr).toBe(0);
    expect(evicted.stdout).toMatch(/evicted \d+ cached blocks of 2 files/);
    for (const f of ['big', 'sub/small']) {
      for (const b of (await info(join(mp, f))).blocks) expect([b.inMemory, b.onDisk]).toEqual([false, false]);
    }

    const warmed = await flexfs(['warmup', mp, '--concurrency', '2']);
    expect(warmed.code, warmed.stderr).toBe(0);
    expect(warmed.stdout).toMatch(new RegExp(`warmed 4 of 4 blocks \\(9\\.0 MiB\\) of 2 files`));
    expect(warmed.stderr).toMatch(/warmup: 4\/4 blocks/);
    for (const f of ['big', 'sub/small']) {
      for (const b of (await info(join(mp, f))).blocks) expect([b.inMemory, b.onDisk]).toEqual([true, true]);
    }
    expect((await readdir(cacheDir, { recursive: true })).length).toBeGreaterThan(0);
    // The warmed data is the file's.
    expect((await readFile(join(mp, 'big'))).equals(big)).toBe(true);

    const json = await flexfs(['warmup', join(mp, 'sub', 'small'), '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject([{ mountpoint: mp, files: 1, blocks: 1, totalBlocks: 1, failed: 0 }]);
    expect((await flexfs(['warmup', mp, '--concurrency', '0'])).code).toBe(2);
  }, 120_000);

  it('stats: per-interval rates while a writer works, text and --json', async () => {
    const child = spawn(process.execPath, [join(REPO_ROOT, FLEXFS_MAIN), 'stats', mp, '--count', '3', '--json'], { env: { ...process.env, FLEXFS_HOME: home } });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    let done = false;
    void exited.then(() => { done = true; });
    // Rewrite a file until stats is done (writes reach the mount: no writeback cache by default).
    const chunk = Buffer.alloc(64 * 1024, 1);
    while (!done) await writeFile(join(mp, 'sub', 'written'), chunk);
    expect(await exited).toBe(0);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as StatsLine);
    expect(lines, stdout).toHaveLength(3);
    expect(lines.reduce((n, l) => n + (l.opsPerSecond.open ?? 0), 0)).toBeGreaterThan(0);
    expect(lines.reduce((n, l) => n + (l.opsPerSecond.write ?? 0), 0)).toBeGreaterThan(0);
    expect(lines.reduce((n, l) => n + l.writtenBytesPerSecond, 0)).toBeGreaterThan(0);
    expect(lines.every((l) => l.seconds > 0 && l.memCacheBytes > 0)).toBe(true);

    const text = await flexfs(['stats', mp, '--count', '1']);
    expect(text.code, text.stderr).toBe(0);
    const [header, row] = text.stdout.split('\n');
    expect(header).toMatch(/^time\s+lookup\s+getattr\s+open\s+read\s+write/);
    expect(row).toMatch(/^\d\d:\d\d:\d\d /);
    expect((await flexfs(['stats', mp, '--count', '0'])).code).toBe(2);
  }, 120_000);
});
