import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { readMounts } from '../../src/fuse/mountinfo.js';
import { freePort } from '../harness/ports.js';
import type { StartedMount } from '../harness/mount.js';
import { buildMountClient, mountLocal, ok, workDir } from './helpers.js';
import { F_WRLCK, flockNb, hold, probe, release } from '../harness/locks.js';

const MiB = 2 ** 20;

/**
 * What the low-level FUSE layer gives a real flexfs mount (--local), counted by the mount's own
 * per-operation metrics (--metricsPort): 1 MiB write requests, listings answered by READDIRPLUS
 * (no LOOKUP per entry where the kernel may cache names), the mount's type and options.
 */
describe('flexfs on the low-level FUSE layer (real mounts, --local)', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  const mounts: StartedMount[] = [];

  beforeAll(async () => {
    await buildMountClient();
    dir = await workDir('flexfs-mkl-');
  });
  afterAll(async () => {
    for (const m of mounts) await m.stop();
    await dir?.cleanup();
  });

  async function mount(name: string, args: string[] = []): Promise<{ mp: string; ops: (op: string) => Promise<number>; bytes: () => Promise<number> }> {
    const port = await freePort();
    const mp = join(dir.path, name);
    const m = await mountLocal(mp, { local: join(dir.path, `${name}-local`), home: join(dir.path, 'home'), args: ['--metricsPort', `127.0.0.1:${port}`, ...args] });
    mounts.push(m);
    const metric = async (name: string, label: string): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return text.split('\n').filter((l) => l.startsWith(`${name}{`) && l.includes(label))
        .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
    };
    return {
      mp,
      ops: (op) => metric('flexfs_mount_op_seconds_count', `op="${op}"`),
      bytes: () => metric('flexfs_mount_bytes_total', 'direction="written"'),
    };
  }

  it('dd bs=1M arrives as 1 MiB write and read requests; the mount is fuse.flexfs with its source and options', async () => {
    const m = await mount('big');
    const writes = await m.ops('write');
    await ok('dd', ['if=/dev/zero', `of=${join(m.mp, 'f')}`, 'bs=1M', 'count=8', 'status=none']);
    expect(await m.ops('write') - writes).toBe(8);
    expect(await m.bytes()).toBe(8 * MiB);
    expect((await fsp.stat(join(m.mp, 'f'))).blksize).toBe(MiB); // cp and dd pick 1 MiB buffers
    // Reads too: the mount raised the kernel's readahead (4 MiB), so 8 MiB read cold is ~8 requests.
    await ok('sh', ['-c', 'echo 3 > /proc/sys/vm/drop_caches']);
    const reads = await m.ops('read');
    await ok('dd', [`if=${join(m.mp, 'f')}`, 'of=/dev/null', 'bs=1M', 'status=none']);
    expect(await m.ops('read') - reads).toBeGreaterThan(0);
    expect(await m.ops('read') - reads).toBeLessThanOrEqual(10);
    const entry = (await readMounts()).find((e) => e.mountpoint === m.mp);
    expect(entry).toMatchObject({ fstype: 'fuse.flexfs', source: 'vol' });
    expect(entry!.options.split(',')).toContain('rw');
  });

  for (const args of [['--no-acl'], []]) it(`ls -l is answered by READDIRPLUS: no LOOKUP per entry (the kernel caches names, ${args.length ? '--no-acl' : 'ACL mount: it checks the ACLs itself'})`, async () => {
    // Long entry timeouts: on --local the default is 1 s, and on a loaded machine `ls -l` can take
    // longer than that between READDIRPLUS and its stats (the kernel then looks each name up again).
    const m = await mount(`plus${args.length}`, [...args, '--entryTTL', '60', '--attrTTL', '60']);
    await fsp.mkdir(join(m.mp, 'd'));
    for (let i = 0; i < 200; i++) await fsp.writeFile(join(m.mp, 'd', `f${i}`), 'x');
    await ok('sh', ['-c', 'echo 2 > /proc/sys/vm/drop_caches']); // forget the dentries the creates left
    const [lookups, plus] = [await m.ops('lookup'), await m.ops('readdir')];
    const out = await ok('ls', ['-l', join(m.mp, 'd')]);
    expect(out.split('\n').filter((l) => l.startsWith('-')).length).toBe(200);
    expect(await m.ops('readdir') - plus).toBeGreaterThan(0);
    // the directory itself may be looked up again; its 200 entries are not
    expect(await m.ops('lookup') - lookups).toBeLessThan(5);
  });

  it('fcntl and flock locks conflict between two processes on one mount: the lock ops reach flexfs (shared locks)', async () => {
    const m = await mount('locks');
    const f = join(m.mp, 'f');
    await fsp.writeFile(f, 'x'.repeat(200));
    const h = await hold(f, 'posix');
    try {
      expect(await probe(f)).toEqual({ ex0: 'EAGAIN', ex100: 'ok', getlk: [F_WRLCK, 0, 10, h.pid] });
    } finally {
      await release(h);
    }
    expect(await probe(f)).toMatchObject({ ex0: 'ok', ex100: 'ok' });
    const g = await hold(f, 'flock');
    try {
      expect(await flockNb(f)).toBe(1);
      expect(await flockNb(f, true)).toBe(1);
    } finally {
      await release(g);
    }
    expect(await flockNb(f)).toBe(0);
    // FsCore has the lock methods: libfuse negotiated POSIX and flock locks, every request is ours
    for (const op of ['getlk', 'setlk', 'flock']) expect(await m.ops(op)).toBeGreaterThan(0);
  });
});
