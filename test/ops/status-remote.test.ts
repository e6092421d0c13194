import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeCreds } from '../../src/config/creds.js';
import { AdminClient } from '../../src/meta/client/index.js';
import { ensureBuilt, REPO_ROOT, startMount, type StartedMount } from '../harness/mount.js';
import { tempDir, waitFor } from '../harness/ports.js';
import { runCommand } from '../harness/run-command.js';
import { startDaemon, type Daemon } from '../meta-server/harness.js';

const ADMIN_TOKEN = 'status-remote-admin-token-5f3a9c';
const FLEXFS = join(REPO_ROOT, 'dist/src/cli/flexfs/main.js');
const MOUNT = 'dist/src/cli/mount/main.js';

/**
 * `flexfs status <volume>` on a client host of a remote volume: the host has no metadata
 * database, so the status comes from its mounts' status files, or from meta.flexfs's admin API
 * with --addr; with neither, a clear error. A real meta.flexfs (TLS), a real mount of a volume
 * it serves, the real CLI in child processes.
 */
describe('flexfs status <volume> on a client host', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let meta: Daemon | undefined;
  let mount: StartedMount | undefined;
  let serverHome: string;
  let clientHome: string;
  let mp: string;

  const status = (args: string[]) => runCommand(process.execPath, [FLEXFS, 'status', ...args],
    { env: { FLEXFS_HOME: clientHome }, timeoutMs: 60_000 });
  const viaServer = () => ['--addr', `127.0.0.1:${meta!.port}`, '--credsFile', join(serverHome, 'meta', 'creds'),
    '--ca', join(serverHome, 'meta', 'tls', 'cert.pem')];

  beforeAll(async () => {
    await ensureBuilt([MOUNT, 'dist/src/cli/flexfs/main.js', 'dist/src/cli/meta/main.js']);
    dir = await tempDir('flexfs-status-remote-');
    serverHome = join(dir.path, 'server');
    clientHome = join(dir.path, 'client');
    await writeCreds(join(serverHome, 'meta', 'creds'), { adminToken: ADMIN_TOKEN });
    meta = await startDaemon({ home: serverHome, args: ['--dbFolder', join(serverHome, 'db')] });
    const admin = new AdminClient(`127.0.0.1:${meta.port}`, ADMIN_TOKEN, { ca: join(serverHome, 'meta', 'tls', 'cert.pem') });
    await mkdir(join(dir.path, 'blocks'));
    await admin.createVolume({ name: 'svol', blockStore: { url: `file://${join(dir.path, 'blocks')}` } });
    const token = await admin.createToken({ volume: 'svol', label: 'status test' });
    await writeCreds(join(clientHome, 'mount', 'creds', 'svol'), {
      metaAddr: `127.0.0.1:${meta.port}`, token: token.secret, metaCA: join(serverHome, 'meta', 'tls', 'cert.pem'),
    });
    mp = join(dir.path, 'mnt');
    mount = await startMount({
      args: [MOUNT, 'start', 'svol', mp, '--foreground'], mountpoint: mp,
      env: { FLEXFS_HOME: clientHome, NOTIFY_SOCKET: '', FLEXFS_TEST_FAULTS: '' }, timeoutMs: 60_000,
    });
    await writeFile(join(mp, 'f'), Buffer.alloc(100_000, 1));
  }, 180_000);

  afterAll(async () => {
    await mount?.stop();
    await meta?.stop();
    await dir?.cleanup();
  });

  it('without metadata access: the volume\'s mounts on this host, from their status files', async () => {
    const r = await status(['svol', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ source: 'local mounts', name: 'svol' });
    expect(s.localMounts).toHaveLength(1);
    expect(s.localMounts[0]).toMatchObject({ volume: 'svol', mountpoint: mp, pid: mount!.pid });
    const text = await status(['svol']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/volume svol: no metadata access from this host \(use --addr/);
    expect(text.stdout).toContain(`mount ${mp} (volume svol, pid ${mount!.pid}`);
  });

  it('--addr: settings and sessions from meta.flexfs (admin token from the server creds)', async () => {
    const r = await status(['svol', ...viaServer(), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ source: 'meta server', name: 'svol', blockSize: 4 * 2 ** 20, encrypted: false });
    expect(s.id).toMatch(/^[0-9a-f]+$/);
    expect(s.sessions).toHaveLength(1);
    expect(s.sessions[0]).toMatchObject({ mountpoint: mp, volumeId: s.id });
    expect(s.localMounts.map((m: { pid: number }) => m.pid)).toEqual([mount!.pid]);
    expect(s.usage).toBeUndefined(); // the admin API serves no usage
    const text = await status(['svol', ...viaServer()]);
    expect(text.stdout).toMatch(/^volume svol \([0-9a-f]+\) via the meta server$/m);
    expect(text.stdout).toMatch(/sessions: +1\n.* pid \d+ .*\/mnt /);

    const missing = await status(['nosuch', ...viaServer()]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no volume "nosuch" on the meta server/);
    const wrong = join(dir.path, 'wrong-creds');
    await writeCreds(wrong, { adminToken: 'not-the-admin-token-7a1b' });
    const refused = await status(['svol', '--addr', `127.0.0.1:${meta!.port}`, '--credsFile', wrong, '--ca', join(serverHome, 'meta', 'tls', 'cert.pem')]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/refused the admin token/);
    expect(refused.stderr + refused.stdout).not.toContain('not-the-admin-token-7a1b');
  });

  it('neither a database, a mount nor --addr: a clear error saying what to use', async () => {
    const r = await status(['other']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/volume "other": no metadata database on this host .*meta\.db\) and no mount of it here/);
    expect(r.stderr).toMatch(/--addr host:port/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    // A usage error is "could not run" too (2), never confused with 1 = "not mounted there".
    const usage = await status(['svol', '--bogus']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/unknown option '--bogus'/);
    // Naming an engine still opens it (the metadata host's way), with its own error when absent.
    const named = await status(['svol', '--dbFolder', join(dir.path, 'nodb')]);
    expect(named.code).toBe(2);
    expect(named.stderr).toMatch(/no metadata database at .*nodb\/meta\.db/);
    // Once the mount is gone, the client host knows nothing about the volume any more.
    await mount!.stop();
    mount = undefined;
    await waitFor(async () => (await status(['svol'])).code === 2, 20_000, 'status to stop reporting the unmounted volume');
  });
});
