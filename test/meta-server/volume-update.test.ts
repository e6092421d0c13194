import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeCreds } from '../../src/config/creds.js';
import type { StartedMount } from '../harness/mount.js';
import { buildMountClient, expectCode, mountRemote, ok, patternBytes } from '../mount/helpers.js';
import { runCli } from './harness.js';
import { startDaemonEnv, type DaemonEnv } from './daemon-setup.js';

const MiB = 2 ** 20;

/** Total bytes `df` reports for a mount (blocks × fragment size). */
async function dfTotal(mountpoint: string): Promise<number> {
  const [blocks, frsize] = (await ok('stat', ['-f', '-c', '%b %S', mountpoint])).trim().split(' ').map(Number);
  return blocks * frsize;
}

/**
 * `meta.flexfs volume update` and `volume show` against a live meta.flexfs (child process, TLS,
 * sqlite), with a real mount of the volume (file:// block store) that sees a new capacity
 * without a remount.
 */
describe('meta.flexfs volume update / show against a live server and a mount', () => {
  let env: DaemonEnv;
  let mount: StartedMount | undefined;
  let cli: (args: string[]) => ReturnType<typeof runCli>;
  beforeAll(async () => {
    await buildMountClient();
    env = await startDaemonEnv();
    cli = (args) => runCli([...args, '--addr', `127.0.0.1:${env.daemon.port}`], { FLEXFS_HOME: env.home });
  });
  afterAll(async () => { await mount?.stop(); await env?.daemon.stop(); await env?.cleanup(); });

  it('updates capacity, inode limit, retention, proxies and sse; show prints every setting; a mounted volume gets the new capacity at once', async () => {
    const blocks = join(env.home, 'blocks');
    await mkdir(blocks, { recursive: true });
    const c = await cli(['volume', 'create', 'upd1', '--store', `file://${blocks}`, '--blockSize', '1M', '--capacity', '10M', '--retention', '1h']);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toMatch(/capacity:\s+10\.0 MiB/);
    expect(c.stdout).toMatch(/inode limit:\s+unlimited/);

    const shown = await cli(['volume', 'show', 'upd1']);
    expect(shown.code, shown.stderr).toBe(0);
    for (const row of [/name:\s+upd1/, /block size:\s+1\.0 MiB/, /compression:\s+lz4/, /encryption:\s+none/, /store:\s+file:\/\//, /sse:\s+false/,
      /retention:\s+3600 s/, /proxies:\s+-/, /capacity:\s+10\.0 MiB/, /inode limit:\s+unlimited/, /used:\s+0 B in 1 inodes/]) {
      expect(shown.stdout).toMatch(row);
    }

    const token = await cli(['token', 'create', '--volume', 'upd1']);
    expect(token.code, token.stderr).toBe(0);
    const mountHome = join(env.home, 'mounthome');
    await writeCreds(join(mountHome, 'mount', 'creds', 'upd1'), { metaAddr: `127.0.0.1:${env.daemon.port}`, token: token.stdout.trim(), metaCA: env.certPath });
    mount = await mountRemote('upd1', join(env.home, 'mnt'), mountHome);
    const mp = mount.mountpoint;
    expect(await dfTotal(mp)).toBe(10 * MiB);
    await fsp.writeFile(join(mp, 'f'), patternBytes(1, MiB));
    await fsp.truncate(join(mp, 'f'), 3 * MiB); // fits in 10 MiB
    await fsp.truncate(join(mp, 'f'), MiB);

    const u = await cli(['volume', 'update', 'upd1', '--capacity', '2M', '--inodeLimit', '100', '--retention', '2h', '--proxies', 'a:1,b:2', '--sse']);
    expect(u.code, u.stderr).toBe(0);
    expect(u.stderr).not.toMatch(/warning/);
    for (const row of [/capacity:\s+2\.0 MiB/, /inode limit:\s+100/, /retention:\s+7200 s/, /proxies:\s+a:1,b:2/, /sse:\s+true/, /block size:\s+1\.0 MiB/, /used:\s+1\.0 MiB in 2 inodes/]) {
      expect(u.stdout).toMatch(row);
    }
    // the running mount's session sees the new capacity: df, and growing past it is ENOSPC
    expect(await dfTotal(mp)).toBe(2 * MiB);
    await expectCode(fsp.truncate(join(mp, 'f'), 3 * MiB), 'ENOSPC');
    expect((await fsp.stat(join(mp, 'f'))).size).toBe(MiB);

    const json = JSON.parse((await cli(['volume', 'show', 'upd1', '--json'])).stdout);
    expect(json).toMatchObject({ name: 'upd1', blockSize: MiB, capacityBytes: 2 * MiB, inodeLimit: 100, retentionSeconds: 7200,
      proxies: ['a:1', 'b:2'], blockStore: { sse: true }, usage: { usedBytes: MiB, inodes: 2 } });
    expect(JSON.stringify(json)).not.toContain('daemon-bucket-secret');

    // below current usage: allowed, with a warning; the volume is then full
    const low = await cli(['volume', 'update', 'upd1', '--capacity', '512K', '--inodeLimit', '2']);
    expect(low.code, low.stderr).toBe(0);
    expect(low.stderr).toMatch(/warning: volume upd1 holds 1\.0 MiB, more than its capacity 512\.0 KiB/);
    expect(low.stderr).toMatch(/warning: volume upd1 holds 2 inodes, its limit is 2/);
    await expectCode(fsp.truncate(join(mp, 'f'), MiB + 1), 'ENOSPC');
    await expectCode(fsp.writeFile(join(mp, 'g'), ''), 'ENOSPC');

    // none clears capacity and proxies; --no-sse turns SSE off
    const cleared = await cli(['volume', 'update', 'upd1', '--capacity', 'none', '--inodeLimit', '0', '--proxies', 'none', '--no-sse', '--json']);
    expect(cleared.code, cleared.stderr).toBe(0);
    const after = JSON.parse(cleared.stdout);
    expect(after).toMatchObject({ capacityBytes: 0, inodeLimit: 0, retentionSeconds: 7200 });
    expect(after.proxies).toBeUndefined();
    expect(after.blockStore.sse).toBeUndefined();
    await fsp.truncate(join(mp, 'f'), 3 * MiB);
    expect((await fsp.stat(join(mp, 'f'))).size).toBe(3 * MiB);
    await fsp.writeFile(join(mp, 'g'), 'room again');
  });

  it('usage errors exit 2 naming the flag; settings fixed at creation are refused by name; a missing volume exits 1', async () => {
    const c = await cli(['volume', 'create', 'upd2', '--store', 'file:///tmp/flexfs-unused']);
    expect(c.code, c.stderr).toBe(0);
    const before = (await cli(['volume', 'show', 'upd2', '--json'])).stdout;
    for (const [args, pattern] of [
      [[], /nothing to change; give --capacity/],
      [['--capacity', '10Q'], /--capacity/],
      [['--inodeLimit', '-1'], /--inodeLimit/],
      [['--inodeLimit', '1.5'], /--inodeLimit/],
      [['--retention', 'soon'], /--retention/],
      [['--proxies', 'nohost'], /--proxies/],
      [['--proxies', 'a:99999'], /--proxies/],
      [['--blockSize', '1M'], /--blockSize cannot change after a volume is created/],
      [['--compression', 'none'], /--compression cannot change/],
      [['--encrypt'], /--encrypt cannot change/],
      [['--store', 'file:///elsewhere'], /--store cannot change/],
      [['--bogus'], /unknown option '--bogus'/],
    ] as Array<[string[], RegExp]>) {
      const r = await cli(['volume', 'update', 'upd2', ...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(pattern);
    }
    expect((await cli(['volume', 'show', 'upd2', '--json'])).stdout).toBe(before);
    const missing = await cli(['volume', 'update', 'no-such-volume', '--capacity', '1G']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no-such-volume/);
  });
});
