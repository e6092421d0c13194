import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { access, chmod, cp, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureBuilt, REPO_ROOT } from '../harness/build.js';
import { tempDir } from '../harness/ports.js';

const run = promisify(execFile);
const UNITS = ['flexfs-meta.service', 'flexfs-proxy.service', 'flexfs-mount@.service'];
const ENTRIES = ['dist/src/cli/meta/main.js', 'dist/src/cli/mount/main.js', 'dist/src/cli/flexfs/main.js', 'dist/src/cli/proxy/index.js'];

async function exists(p: string): Promise<boolean> {
  return access(p).then(() => true, () => false);
}

describe('packaging/install.sh into a temporary root (DESTDIR)', () => {
  let root: { path: string; cleanup: () => Promise<void> };
  const install = (...args: string[]) => run('sh', [join(REPO_ROOT, 'packaging/install.sh'), ...args],
    { env: { ...process.env, DESTDIR: root.path }, timeout: 120_000 });

  beforeAll(async () => {
    await ensureBuilt(ENTRIES);
    root = await tempDir('flexfs-destdir-');
  });
  afterAll(async () => { await root?.cleanup(); });

  it('installs every file, keeps operator settings on re-install, and the staged package runs', async () => {
    const first = await install();
    expect(first.stdout).toMatch(/installed flexfs into/);
    const R = root.path;
    const pkg = join(R, 'opt/flexfs');
    for (const f of [...ENTRIES, 'package.json', 'fstab.example', 'node_modules/commander/package.json',
      'node_modules/better-sqlite3/package.json', 'docs/OPERATIONS.md', 'packaging/install.sh', ...UNITS.map((u) => `packaging/systemd/${u}`),
      'binding.gyp', 'build/Release/flexfs_fuse.node']) { // the FUSE addon and the marker its loader looks for
      expect(await exists(join(pkg, f)), f).toBe(true);
    }
    for (const b of ['mount.flexfs', 'meta.flexfs', 'proxy.flexfs', 'flexfs']) {
      expect((await stat(join(pkg, 'bin', b))).mode & 0o111, `bin/${b} executable`).toBe(0o111);
    }
    const launchers: Array<[string, string]> = [['usr/sbin/meta.flexfs', 'meta.flexfs'], ['usr/sbin/proxy.flexfs', 'proxy.flexfs'],
      ['usr/bin/flexfs', 'flexfs'], ['sbin/mount.flexfs', 'mount.flexfs']];
    for (const [path, bin] of launchers) {
      const st = await stat(join(R, path));
      expect(st.mode & 0o777, path).toBe(0o755);
      expect(await readFile(join(R, path), 'utf8')).toContain(`exec /opt/flexfs/bin/${bin} "$@"`);
    }
    for (const u of UNITS) {
      expect(await readFile(join(R, 'etc/systemd/system', u), 'utf8')).toBe(await readFile(join(REPO_ROOT, 'packaging/systemd', u), 'utf8'));
    }
    expect(await readFile(join(R, 'etc/flexfs/proxy.env'), 'utf8')).toMatch(/FLEXFS_PROXY_ARGS/);
    // The state folder exists before the first `sudo -u flexfs meta.flexfs init creds` (OPERATIONS.md §2).
    const state = await stat(join(R, 'var/lib/flexfs'));
    expect(state.isDirectory()).toBe(true);
    expect(state.mode & 0o777).toBe(0o700);

    // The staged copy is complete: its launchers find dist/ and node_modules/ inside the package.
    for (const bin of ['meta.flexfs', 'flexfs']) {
      const v = await run(join(pkg, 'bin', bin), ['version'], { timeout: 60_000 });
      expect(v.stdout).toMatch(/\d+\.\d+\.\d+/);
    }

    // Idempotent: a second run replaces the package, leaves operator settings and no debris.
    await writeFile(join(R, 'etc/flexfs/meta.env'), 'FLEXFS_META_ARGS="--sync"\n');
    await install();
    expect(await readFile(join(R, 'etc/flexfs/meta.env'), 'utf8')).toBe('FLEXFS_META_ARGS="--sync"\n');
    const { stdout: debris } = await run('find', [join(R, 'opt'), '-maxdepth', '1', '-name', 'flexfs.*']);
    expect(debris).toBe('');
  });

  it('units pass systemd-analyze verify inside the root', async () => {
    const has = await run('systemd-analyze', ['--version']).then(() => true, () => false);
    expect(has, 'systemd-analyze is missing: install the Debian package "systemd"').toBe(true);
    const R = root.path;
    // verify --root needs the system's own targets and the binaries the units start.
    await mkdir(join(R, 'usr/lib/systemd'), { recursive: true });
    await cp('/usr/lib/systemd/system', join(R, 'usr/lib/systemd/system'), { recursive: true });
    await mkdir(join(R, 'bin'), { recursive: true });
    await cp('/bin/mkdir', join(R, 'bin/mkdir'));
    const r = await run('systemd-analyze', ['verify', `--root=${R}`, 'flexfs-meta.service', 'flexfs-proxy.service', 'flexfs-mount@data.service'],
      { cwd: join(R, 'etc/systemd/system'), timeout: 60_000 }).then((x) => ({ code: 0, ...x }), (e: { code: number; stdout: string; stderr: string }) => e);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const u of ['flexfs-meta.service', 'flexfs-proxy.service']) {
      const text = await readFile(join(R, 'etc/systemd/system', u), 'utf8');
      expect(text).toMatch(/^Restart=always$/m);
      expect(text).toMatch(/^After=network-online.target$/m);
      expect(text).toMatch(/^User=flexfs$/m);
    }
  });

  it('uninstall keeps settings and data unless --purge', async () => {
    const R = root.path;
    await mkdir(join(R, 'var/lib/flexfs/meta/db'), { recursive: true });
    await writeFile(join(R, 'var/lib/flexfs/meta/db/meta.db'), 'x');
    // The copy shipped in the package uninstalls (the operator may no longer have the checkout).
    await run('sh', [join(R, 'opt/flexfs/packaging/install.sh'), '--uninstall'], { env: { ...process.env, DESTDIR: R }, timeout: 60_000 });
    for (const f of ['opt/flexfs', 'usr/sbin/meta.flexfs', 'usr/bin/flexfs', 'sbin/mount.flexfs', ...UNITS.map((u) => `etc/systemd/system/${u}`)]) {
      expect(await exists(join(R, f)), f).toBe(false);
    }
    expect(await exists(join(R, 'var/lib/flexfs/meta/db/meta.db'))).toBe(true);
    expect(await exists(join(R, 'etc/flexfs/meta.env'))).toBe(true);
    await install('--uninstall', '--purge');
    expect(await exists(join(R, 'var/lib/flexfs'))).toBe(false);
    expect(await exists(join(R, 'etc/flexfs'))).toBe(false);
    await expect(install('--bogus')).rejects.toMatchObject({ stderr: expect.stringMatching(/unknown argument "--bogus"/) });
  });
});

describe('packaging/install.sh --deps-only (Debian packages, with a stand-in apt-get)', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  beforeAll(async () => { dir = await tempDir('flexfs-deps-'); });
  afterAll(async () => { await dir?.cleanup(); });

  /** A PATH holding only what the script needs besides the tools it checks, and a logging apt-get. */
  async function fakeBin(name: string, tools: string[]): Promise<{ bin: string; log: string }> {
    const bin = join(dir.path, name);
    const log = join(dir.path, `${name}.apt.log`);
    await mkdir(bin);
    for (const t of ['dirname', 'id']) await symlink((await run('sh', ['-c', `command -v ${t}`])).stdout.trim(), join(bin, t));
    await writeFile(join(bin, 'apt-get'), `#!/bin/sh\necho "$DEBIAN_FRONTEND $*" >> ${log}\n`);
    for (const t of tools) await writeFile(join(bin, t), '#!/bin/sh\nexit 0\n');
    for (const t of ['apt-get', ...tools]) await chmod(join(bin, t), 0o755);
    return { bin, log };
  }
  const deps = (bin: string, extraEnv: NodeJS.ProcessEnv = {}) => run('/bin/sh', [join(REPO_ROOT, 'packaging/install.sh'), '--deps-only'],
    { env: { PATH: bin, ...extraEnv }, timeout: 30_000 });

  it('runs apt-get update, then installs fuse3, libfuse3-dev and the build tools that are missing; nothing when all are there', async () => {
    expect(process.getuid?.(), 'the live-system mode needs root').toBe(0);
    const bare = await fakeBin('bare', []);
    const r = await deps(bare.bin);
    expect(r.stdout).toMatch(/installing Debian packages: fuse3 pkg-config libfuse3-dev make g\+\+ python3/);
    expect((await readFile(bare.log, 'utf8')).split('\n').filter(Boolean)).toEqual([
      'noninteractive update -q',
      'noninteractive install -y fuse3 pkg-config libfuse3-dev make g++ python3',
    ]);
    // Only make missing: only make is asked for. (/dev/fuse exists on a test host with FUSE.)
    const some = await fakeBin('some', ['fusermount3', 'pkg-config', 'g++', 'python3']);
    await deps(some.bin);
    expect(await readFile(some.log, 'utf8')).toBe('noninteractive update -q\nnoninteractive install -y make\n');
    // Idempotent: everything present, no apt-get call at all.
    const full = await fakeBin('full', ['fusermount3', 'pkg-config', 'make', 'g++', 'python3']);
    const again = await deps(full.bin);
    expect(again.stdout).toMatch(/nothing missing/);
    expect(await exists(full.log)).toBe(false);
    // Staging into a folder never touches the host's packages.
    await expect(deps(bare.bin, { DESTDIR: join(dir.path, 'root') })).rejects.toMatchObject({ stderr: expect.stringMatching(/--deps-only .* not with DESTDIR/) });
  });
});

describe('flexfs-mount@.service', () => {
  it('its env-file example has no systemd specifiers (systemd does not expand them in EnvironmentFile contents)', async () => {
    const text = await readFile(join(REPO_ROOT, 'packaging/systemd/flexfs-mount@.service'), 'utf8');
    const example = text.split('\n').filter((l) => /^#\s+FLEXFS_\w+=/.test(l));
    expect(example.length).toBeGreaterThanOrEqual(2);
    for (const l of example) expect(l).not.toMatch(/%[a-zA-Z]/);
    expect(text).toMatch(/^EnvironmentFile=-\/etc\/flexfs\/mount-%i\.env$/m);
  });
});

describe('packagedUnit (what `init systemd` prints)', () => {
  it('returns the packaged unit files byte for byte', async () => {
    const { packagedUnit } = await import('../../src/ops/units.js');
    for (const u of UNITS) {
      expect(await packagedUnit(u as 'flexfs-meta.service')).toBe(await readFile(join(REPO_ROOT, 'packaging/systemd', u), 'utf8'));
    }
  });
});

describe('unitEnvFile (flags for the packaged units)', () => {
  it('writes the args variable and refuses what systemd would split', async () => {
    const { unitEnvFile } = await import('../../src/ops/units.js');
    expect(unitEnvFile('meta', ['--engine', 'redis://10.0.0.5:6379/0', '--sync'])).toBe('FLEXFS_META_ARGS="--engine redis://10.0.0.5:6379/0 --sync"\n');
    expect(() => unitEnvFile('proxy', ['--store', 's3://b/has space'])).toThrow(/cannot go into a unit env file/);
  });
});
