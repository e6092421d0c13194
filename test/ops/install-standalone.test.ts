import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { access, mkdir, readFile, readlink, realpath, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findFuseMount } from '../../src/fuse/mountinfo.js';
import { ensureBuilt, REPO_ROOT } from '../harness/build.js';
import { tempDir, waitFor } from '../harness/ports.js';

const run = promisify(execFile);
const ENTRIES = ['dist/src/cli/meta/main.js', 'dist/src/cli/mount/main.js', 'dist/src/cli/flexfs/main.js', 'dist/src/cli/proxy/index.js'];

async function exists(p: string): Promise<boolean> {
  return access(p).then(() => true, () => false);
}

interface PackageJson { version: string; dependencies: Record<string, string>; devDependencies: Record<string, string> }

/**
 * An installed flexfs is a self-contained copy: it is installed from a scratch copy of this
 * checkout (hard links: cheap, and the real checkout, which other tests use, is never touched),
 * the scratch checkout is then deleted outright (harsher than an `npm ci` there, which replaces its
 * node_modules), and the installed binaries still run and mount.
 */
describe('an installed flexfs does not depend on the checkout (packaging/install.sh)', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let pkg: string;
  let manifest: PackageJson;
  const mounts: string[] = [];

  beforeAll(async () => {
    await ensureBuilt(ENTRIES);
    dir = await tempDir('flexfs-standalone-');
    const checkout = join(dir.path, 'checkout');
    await run('cp', ['-al', REPO_ROOT, checkout], { timeout: 120_000 });
    const root = join(dir.path, 'root');
    await run('sh', [join(checkout, 'packaging/install.sh')], { env: { ...process.env, DESTDIR: root }, timeout: 300_000 });
    await rm(checkout, { recursive: true, force: true });
    pkg = join(root, 'opt/flexfs');
    manifest = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as PackageJson;
  });

  afterAll(async () => {
    for (const mp of mounts) {
      if (await findFuseMount(mp)) await run('fusermount', ['-u', '-z', mp]).catch(() => undefined);
    }
    await dir?.cleanup();
  });

  it('ships the production dependencies and no devDependencies; no link leads out of the package', async () => {
    for (const name of Object.keys(manifest.dependencies)) {
      expect(await exists(join(pkg, 'node_modules', name, 'package.json')), `dependency ${name}`).toBe(true);
    }
    for (const name of Object.keys(manifest.devDependencies)) {
      expect(await exists(join(pkg, 'node_modules', name)), `devDependency ${name}`).toBe(false);
    }
    expect(await exists(join(pkg, 'node_modules/.bin/tsc'))).toBe(false);
    expect(await exists(join(pkg, 'dist/test')), 'compiled tests').toBe(false);
    const { stdout } = await run('find', [pkg, '-type', 'l'], { maxBuffer: 16 * 2 ** 20 });
    const links = stdout.split('\n').filter(Boolean);
    for (const link of links) {
      const target = await realpath(link).catch(() => '(dangling)');
      expect(target.startsWith(`${pkg}/`), `${link} -> ${await readlink(link)}`).toBe(true);
    }
  });

  it('its binaries print the version with the checkout gone', async () => {
    for (const [bin, args] of [['mount.flexfs', ['--version']], ['meta.flexfs', ['--version']], ['proxy.flexfs', ['--version']], ['flexfs', ['version']]] as const) {
      const r = await run(join(pkg, 'bin', bin), [...args], { timeout: 60_000 });
      // One line from the shared implementation: '<binary> <package version> (…)'.
      expect(r.stdout, bin).toMatch(new RegExp(`^${bin.replace(/\./g, '\\.')} ${manifest.version.replace(/\./g, '\\.')} \\(`));
    }
  });

  it('mounts a --local volume with the checkout gone, loading the FUSE addon and sqlite from the package, and umount stops it', async () => {
    const mp = join(dir.path, 'mnt');
    const local = join(dir.path, 'local');
    await mkdir(mp);
    mounts.push(mp);
    const env = { ...process.env, FLEXFS_HOME: join(dir.path, 'home'), FLEXFS_FSTAB: join(dir.path, 'fstab'), NOTIFY_SOCKET: '' };
    const r = await run(join(pkg, 'bin/mount.flexfs'), ['start', 'demo', mp, '--local', local], { env, timeout: 120_000 });
    expect(r.stdout).toMatch(/mounted \(pid \d+/);
    const pid = Number(/pid (\d+)/.exec(r.stdout)![1]);
    expect(await findFuseMount(mp)).toMatchObject({ fstype: 'fuse.flexfs', source: 'demo' });
    const maps = await readFile(`/proc/${pid}/maps`, 'utf8');
    expect(maps).toContain(join(pkg, 'build/Release/flexfs_fuse.node'));
    expect(maps).toContain(join(pkg, 'node_modules/better-sqlite3/'));

    const data = Buffer.alloc(2 ** 20 + 17, 'installed ');
    await writeFile(join(mp, 'file'), data);
    expect((await readFile(join(mp, 'file'))).equals(data)).toBe(true);

    await run('umount', [mp], { timeout: 60_000 });
    await waitFor(async () => !(await findFuseMount(mp)), 30_000, `unmount of ${mp}`);
    await waitFor(() => { try { process.kill(pid, 0); return false; } catch { return true; } }, 30_000, 'mount daemon exit');
  });
});
