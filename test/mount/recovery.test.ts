import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { writeCreds } from '../../src/config/creds.js';
import { AdminClient } from '../../src/meta/client/index.js';
import type { StartedMount } from '../harness/mount.js';
import { waitFor } from '../harness/ports.js';
import { sharedRgw, type Rgw } from '../harness/rgw.js';
import { startTcpGate, type TcpGate } from '../harness/tcp-gate.js';
import { ensureBuilt as ensureMetaBuilt, startDaemon, type Daemon } from '../meta-server/harness.js';
import { covers } from './semantics-doc.js';
import { buildMountClient, fileSha, mountRemote, patternBytes, run, sha256, workDir } from './helpers.js';

const ADMIN_TOKEN = 'mount-recovery-admin-token-0123456789';
const MiB = 2 ** 20;
const VOLUME = 'rvol';

/**
 * A process that opens `path`, writes the bytes of file `first`, says "first", and on SIGUSR1
 * writes the bytes of file `second` after them and says "second"; it keeps the file open (no
 * close, so no flush) until it is killed.
 */
function holder(path: string, first: string, second: string): { child: ChildProcess; said: (word: string) => Promise<void> } {
  const script = `
    const fs = require('node:fs');
    const [path, a, b] = process.argv.slice(1);
    const fd = fs.openSync(path, 'w');
    const one = fs.readFileSync(a), two = fs.readFileSync(b);
    // the handler before the word: a SIGUSR1 that finds none starts Node's inspector instead
    process.on('SIGUSR1', () => { fs.writeSync(fd, two, 0, two.length, one.length); console.log('second'); });
    fs.writeSync(fd, one, 0, one.length, 0);
    console.log('first');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', script, path, first, second], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  return { child, said: (word) => waitFor(async () => out.includes(word), 120_000, `holder says ${word}`, 50).then(() => undefined) };
}

/**
 * Unmount during a bucket outage longer than --storeDeadline (the RGW behind a TCP gate that
 * refuses connections): the mount retries until the deadline, saves the file's blocks and pending
 * commit to the recovery folder, logs an error naming it and exits non-zero; the next mount, with
 * the bucket back, applies it before serving. A file another mount deleted meanwhile stays deleted.
 */
describe('unmount during a bucket outage: the recovery folder', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let rgw: Rgw;
  let gate: TcpGate;
  let meta: Daemon | undefined;
  let home: string;
  let folder: string;
  const mounts: StartedMount[] = [];
  const holders: ChildProcess[] = [];

  async function mount(name: string): Promise<StartedMount> {
    const m = await mountRemote(VOLUME, join(dir.path, name), home, ['--storeDeadline', '3s']);
    mounts.push(m);
    return m;
  }

  /** `data` in a file outside the mounts (what a holder writes). */
  async function source(name: string, data: Buffer): Promise<string> {
    const path = join(dir.path, `${name}.src`);
    await fsp.writeFile(path, data);
    return path;
  }

  /** SIGTERM `m` while the gate is closed; its exit code (it must exit by itself). */
  async function stopInOutage(m: StartedMount): Promise<number | null> {
    process.kill(m.pid, 'SIGTERM');
    return Promise.race([m.exited, new Promise<never>((_, fail) => setTimeout(() => fail(new Error(`mount did not exit:\n${m.output()}`)), 120_000))]);
  }

  beforeAll(async () => {
    await buildMountClient();
    await ensureMetaBuilt();
    dir = await workDir('flexfs-recovery-');
    home = join(dir.path, 'home');
    folder = join(home, 'mount', 'recovery', VOLUME);
    rgw = await sharedRgw();
    gate = await startTcpGate(Number(new URL(rgw.endpoint).port));
    await writeCreds(join(home, 'meta', 'creds'), { adminToken: ADMIN_TOKEN, blockUser: rgw.accessKey, blockPass: rgw.secretKey });
    meta = await startDaemon({ home, args: ['--dbFolder', join(home, 'db'), '--sessionTtl', '120'] });
    const admin = new AdminClient(`127.0.0.1:${meta.port}`, ADMIN_TOKEN, { ca: join(home, 'meta', 'tls', 'cert.pem') });
    await admin.createVolume({
      name: VOLUME,
      blockStore: { url: `s3://${rgw.bucket}/recovery-${randomBytes(4).toString('hex')}`, endpoint: gate.endpoint, region: rgw.region, pathStyle: true },
    });
    const token = await admin.createToken({ volume: VOLUME, label: 'recovery test' });
    await writeCreds(join(home, 'mount', 'creds', VOLUME), {
      metaAddr: `127.0.0.1:${meta.port}`, token: token.secret, metaCA: join(home, 'meta', 'tls', 'cert.pem'),
    });
  }, 300_000);

  afterAll(async () => {
    for (const h of holders) h.kill('SIGKILL');
    await gate?.open();
    for (const m of mounts) await m.stop();
    await meta?.stop();
    await gate?.stop();
    await rgw?.stop();
    await dir?.cleanup();
  });

  it('saves the unuploaded blocks, exits non-zero naming the folder; the next mount applies them', async () => {
    covers('unmount-recovery');
    const a = await mount('a');
    // 6 MiB with the bucket up (one 4 MiB block uploads, 2 MiB stay dirty), the rest during the outage
    const data = patternBytes(17, 10 * MiB + 123);
    const h = holder(join(a.mountpoint, 'kept'), await source('kept-1', data.subarray(0, 6 * MiB)), await source('kept-2', data.subarray(6 * MiB)));
    holders.push(h.child);
    await h.said('first');
    await gate.close();
    h.child.kill('SIGUSR1');
    await h.said('second');
    const code = await stopInOutage(a);
    h.child.kill('SIGKILL');
    expect(code, a.output()).toBe(1);
    expect(a.output()).toContain(`saved to the recovery folder ${folder}`);
    expect(a.output()).toContain(`flexfs recover --volume ${VOLUME} ${folder}`);
    const records = (await fsp.readdir(folder)).filter((n) => n.endsWith('.fxr'));
    expect(records).toHaveLength(1);
    expect((await fsp.stat(join(folder, records[0]))).mode & 0o777).toBe(0o600);

    await gate.open();
    const b = await mount('b');
    expect(b.output()).toMatch(/recovery: applied inode \d+ \(10485883 bytes/);
    await expect(fsp.stat(folder)).rejects.toMatchObject({ code: 'ENOENT' });
    // b fetches every block from the bucket (the apply PUTs them without caching)
    expect(await fileSha(join(b.mountpoint, 'kept'))).toEqual({ sha: sha256(data), size: data.length });
  }, 300_000);

  it('a file deleted by another mount meanwhile is not resurrected', async () => {
    const other = mounts.find((m) => m.mountpoint.endsWith('/b'))!;
    const a = await mount('a2');
    const h = holder(join(a.mountpoint, 'doomed'), await source('doomed', patternBytes(5, 3 * MiB)), await source('empty', Buffer.alloc(0)));
    holders.push(h.child);
    await h.said('first');
    await gate.close();
    await fsp.unlink(join(other.mountpoint, 'doomed'));
    const code = await stopInOutage(a);
    h.child.kill('SIGKILL');
    expect(code, a.output()).toBe(1);
    expect((await fsp.readdir(folder)).filter((n) => n.endsWith('.fxr'))).toHaveLength(1);
    await gate.open();
    const c = await mount('c');
    expect(c.output()).toMatch(/recovery: skipped inode \d+ .*deleted meanwhile/);
    await expect(fsp.stat(join(c.mountpoint, 'doomed'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(fsp.stat(folder)).rejects.toMatchObject({ code: 'ENOENT' });
  }, 300_000);

  it('flexfs recover with nothing to do says so; without a folder or volume it is a usage error', async () => {
    const entry = join(process.cwd(), 'dist', 'src', 'cli', 'flexfs', 'main.js');
    const none = await run(process.execPath, [entry, 'recover', '--volume', VOLUME], { env: { FLEXFS_HOME: home } });
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout).toContain(`nothing to recover in ${folder}`);
    const bad = await run(process.execPath, [entry, 'recover'], { env: { FLEXFS_HOME: home } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--volume/);
  });
});
