import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { writeCreds } from '../../src/config/creds.js';
import { AdminClient } from '../../src/meta/client/index.js';
import { startMount, type StartedMount } from '../harness/mount.js';
import { sharedRgw, type Rgw } from '../harness/rgw.js';
import { waitFor } from '../harness/ports.js';
import { findFuseMount } from '../../src/fuse/mountinfo.js';
import { ensureBuilt as ensureMetaBuilt, startDaemon, type Daemon } from '../meta-server/harness.js';
import { buildMountClient, MOUNT_ENTRY, mountLocal, mountRemote, NOBODY, run, runAs, workDir } from './helpers.js';

const ADMIN_TOKEN = 'mount-identity-admin-token-0123456789';

/**
 * Scoped tokens and squash through real mounts: meta.flexfs (child process, sqlite) + an RGW
 * bucket, `mount.flexfs start` with a creds file per token. A subdir token's mount shows only
 * the subtree (and ".." inside stays inside), a read-only token's mount refuses writes with
 * EROFS, --rootSquash makes root's new files the squash ids', allSquash (as an fstab option)
 * does the same for a non-root caller.
 */
describe('identity: scoped-token mounts and squash through real mounts', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let rgw: Rgw;
  let meta: Daemon;
  let admin: AdminClient;
  let home: string;
  let full: StartedMount;
  const mounts: StartedMount[] = [];
  const prefix = `identity-test-${randomBytes(4).toString('hex')}`;

  /** A creds file for a token of volume idv with `spec`; returns its path. */
  async function credsFor(name: string, spec: Record<string, unknown>): Promise<string> {
    const token = await admin.createToken({ volume: 'idv', label: name, ...spec });
    const path = join(home, 'mount', 'creds', `idv-${name}`);
    await writeCreds(path, { metaAddr: `127.0.0.1:${meta.port}`, token: token.secret, metaCA: join(home, 'meta', 'tls', 'cert.pem') });
    return path;
  }

  async function mount(name: string, args: string[]): Promise<StartedMount> {
    const mp = join(dir.path, name);
    await fsp.mkdir(mp, { recursive: true });
    const m = await mountRemote('idv', mp, home, args);
    mounts.push(m);
    return m;
  }

  beforeAll(async () => {
    await buildMountClient();
    await ensureMetaBuilt();
    dir = await workDir('flexfs-mident-');
    home = join(dir.path, 'home');
    rgw = await sharedRgw();
    await writeCreds(join(home, 'meta', 'creds'), { adminToken: ADMIN_TOKEN, blockUser: rgw.accessKey, blockPass: rgw.secretKey });
    meta = await startDaemon({ home, args: ['--dbFolder', join(home, 'db'), '--sessionTtl', '120'] });
    admin = new AdminClient(`127.0.0.1:${meta.port}`, ADMIN_TOKEN, { ca: join(home, 'meta', 'tls', 'cert.pem') });
    await admin.createVolume({
      name: 'idv', blockStore: { url: `s3://${rgw.bucket}/${prefix}`, endpoint: rgw.endpoint, region: rgw.region, pathStyle: true },
    });
    full = await mount('full', ['--credsFile', await credsFor('full', {})]);
    const mp = full.mountpoint;
    await fsp.mkdir(join(mp, 'a', 'b'), { recursive: true });
    await fsp.writeFile(join(mp, 'a', 'b', 'f'), 'inside\n');
    await fsp.mkdir(join(mp, 'outside'));
    await fsp.writeFile(join(mp, 'outside', 'secret'), 'secret\n');
    await fsp.mkdir(join(mp, 'pub'));
    await fsp.chmod(join(mp, 'pub'), 0o1777);
  }, 300_000);

  afterAll(async () => {
    for (const m of mounts.reverse()) await m.stop();
    await meta?.stop();
    await rgw?.stop();
    await dir?.cleanup();
  });

  it('a subdir token\'s mount shows only the subtree, ".." stays inside, and what it writes lands there', async () => {
    const m = await mount('sub', ['--credsFile', await credsFor('sub', { subdir: '/a' })]);
    const mp = m.mountpoint;
    expect((await fsp.readdir(mp)).sort()).toEqual(['b']);
    expect(await fsp.readFile(join(mp, 'b', 'f'), 'utf8')).toBe('inside\n');
    // ".." of a directory in the mount, and of the mount's root seen from inside, stay in the subtree
    const find = await run('find', [mp]);
    expect(find.stdout.split('\n').filter(Boolean).sort()).toEqual([mp, join(mp, 'b'), join(mp, 'b', 'f')]);
    const ino = async (p: string) => (await fsp.stat(p)).ino;
    expect(await ino(join(mp, 'b', '..'))).toBe(await ino(mp));
    expect((await fsp.readdir(join(mp, 'b', '..'))).sort()).toEqual(['b']);
    expect(await fsp.readdir(join(mp, 'b', '..', 'b', '..', 'b'))).toEqual(['f']);
    // written through the scoped mount, seen at /a in the volume
    await fsp.writeFile(join(mp, 'new'), 'from the scoped mount\n');
    expect(await fsp.readFile(join(full.mountpoint, 'a', 'new'), 'utf8')).toBe('from the scoped mount\n');
    expect(m.output()).toContain('shows only /a');
  });

  it('a read-only token\'s mount mounts read-only and refuses writes with EROFS', async () => {
    const m = await mount('ro', ['--credsFile', await credsFor('ro', { readOnly: true })]);
    const mp = m.mountpoint;
    expect(await fsp.readFile(join(mp, 'a', 'b', 'f'), 'utf8')).toBe('inside\n');
    for (const attempt of [
      () => fsp.writeFile(join(mp, 'pub', 'x'), 'x'),
      () => fsp.mkdir(join(mp, 'pub', 'd')),
      () => fsp.unlink(join(mp, 'a', 'b', 'f')),
      () => fsp.rename(join(mp, 'a', 'b', 'f'), join(mp, 'a', 'g')),
      () => fsp.appendFile(join(mp, 'a', 'b', 'f'), 'more'),
    ]) {
      await expect(attempt()).rejects.toMatchObject({ code: 'EROFS' });
    }
    expect(await fsp.readFile(join(full.mountpoint, 'a', 'b', 'f'), 'utf8')).toBe('inside\n');
    expect(m.output()).toContain('read-only');
    // mounted read-only by the kernel (statvfs reports ST_RDONLY), not only refused by the server
    expect((await findFuseMount(mp))?.options.split(',')).toContain('ro');
  });

  it('--rootSquash: a file root creates is owned by the squash uid:gid; other callers keep theirs', async () => {
    const m = await mount('rs', ['--credsFile', await credsFor('rs', {}), '--rootSquash', '65534:65534']);
    const mp = m.mountpoint;
    await fsp.writeFile(join(mp, 'pub', 'by-root'), 'r');
    const st = await fsp.stat(join(mp, 'pub', 'by-root'));
    expect(`${st.uid}:${st.gid}`).toBe('65534:65534');
    // squashed root is nobody for permission checks too: root's 0755 directory is closed to it
    await expect(fsp.writeFile(join(mp, 'a', 'denied'), 'x')).rejects.toMatchObject({ code: 'EACCES' });
    const w = await runAs({ uid: 1000, gid: 1000 }, 'sh', ['-c', `echo u > '${mp}/pub/by-user' && stat -c '%u:%g' '${mp}/pub/by-user'`]);
    expect(w.stdout.trim(), w.stderr).toBe('1000:1000');
  });

  it('allSquash (as a mount option, the fstab way): a non-root caller\'s new file gets the squash uid:gid', async () => {
    // mount(8)'s helper form, as an fstab line runs it: mount.flexfs VOLUME DIR -o options
    const mp = join(dir.path, 'as');
    await fsp.mkdir(mp);
    const m = await startMount({
      args: [MOUNT_ENTRY, 'idv', mp, '-o', `credsFile=${await credsFor('as', {})},allSquash=4242:4243,foreground,_netdev`], mountpoint: mp,
      env: { FLEXFS_HOME: home, NOTIFY_SOCKET: '', FLEXFS_TEST_FAULTS: '' }, timeoutMs: 60_000,
    });
    mounts.push(m);
    const w = await runAs(NOBODY, 'sh', ['-c', `echo n > '${mp}/pub/by-nobody' && stat -c '%u:%g' '${mp}/pub/by-nobody'`]);
    expect(w.stdout.trim(), w.stderr).toBe('4242:4243');
    await fsp.writeFile(join(mp, 'pub', 'by-root-too'), 'r');
    const st = await fsp.stat(join(mp, 'pub', 'by-root-too'));
    expect(`${st.uid}:${st.gid}`).toBe('4242:4243');
  });

  it('a token\'s squash is the server\'s: it applies whatever the mount does', async () => {
    const m = await mount('ts', ['--credsFile', await credsFor('ts', { allSquash: { uid: 5151, gid: 5152 } })]);
    await fsp.writeFile(join(m.mountpoint, 'pub', 'by-token'), 't');
    const st = await fsp.stat(join(full.mountpoint, 'pub', 'by-token'));
    expect(`${st.uid}:${st.gid}`).toBe('5151:5152');
  });

  it('--rootSquash works on a --local mount too', async () => {
    const local = join(dir.path, 'local-vol');
    const mp = join(dir.path, 'local-mp');
    const plain = await mountLocal(mp, { local, home });
    await fsp.mkdir(join(mp, 'pub'));
    await fsp.chmod(join(mp, 'pub'), 0o1777);
    await fsp.mkdir(join(mp, 'closed'), { mode: 0o755 });
    await plain.stop();
    const m = await mountLocal(mp, { local, home, args: ['--rootSquash', '65534:65534'] });
    mounts.push(m);
    await fsp.writeFile(join(mp, 'pub', 'x'), 'x');
    const st = await fsp.stat(join(mp, 'pub', 'x'));
    expect(`${st.uid}:${st.gid}`).toBe('65534:65534');
    await expect(fsp.writeFile(join(mp, 'closed', 'y'), 'y')).rejects.toMatchObject({ code: 'EACCES' });
  });

  it('a mount with an expired token fails and says the token expired', async () => {
    const creds = await credsFor('exp', { expiresAt: Date.now() + 1500 });
    const first = await admin.listTokens();
    const exp = first.find((t) => t.label === 'exp')!;
    await waitFor(() => Date.now() > exp.expiresAt!, 10_000, 'the token to expire');
    await fsp.mkdir(join(dir.path, 'expired-mp'));
    const r = await run(process.execPath, [join(import.meta.dirname, '..', '..', 'dist', 'src', 'cli', 'mount', 'main.js'),
      'start', 'idv', join(dir.path, 'expired-mp'), '--credsFile', creds, '--foreground'], { env: { ...process.env, FLEXFS_HOME: home, NOTIFY_SOCKET: '' } });
    expect(r.code).toBe(1);
    expect(r.stderr + r.stdout).toMatch(/token expired at \d{4}-/);
  });

  it('bad squash values are usage errors naming the flag (exit 2)', async () => {
    const bad = await run(process.execPath, [join(import.meta.dirname, '..', '..', 'dist', 'src', 'cli', 'mount', 'main.js'),
      'start', 'idv', join(dir.path, 'never'), '--rootSquash', 'nobody']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--rootSquash');
    const both = await run(process.execPath, [join(import.meta.dirname, '..', '..', 'dist', 'src', 'cli', 'mount', 'main.js'),
      'start', 'idv', join(dir.path, 'never'), '--rootSquash', '1:1', '--allSquash', '2:2']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--allSquash');
  });
});
