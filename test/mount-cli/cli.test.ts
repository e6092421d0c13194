import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseMountOptions } from '../../src/cli/mount/flags.js';
import { START_HELP } from '../../src/cli/mount/help.js';
import { helperInvocation } from '../../src/cli/mount/helper.js';
import { findFuseMount } from '../../src/fuse/mountinfo.js';
import { ensureBuilt, REPO_ROOT } from '../harness/build.js';
import { tempDir, waitFor } from '../harness/ports.js';

const ENTRY = 'dist/src/cli/mount/main.js';
const execFileP = promisify(execFile);

interface Result { code: number; stdout: string; stderr: string }

/** Run mount.flexfs for real; never throws, returns exit code and output. */
function cli(args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, ENTRY), ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, stdout, stderr }); });
    child.stdin.end(input ?? '');
  });
}

describe('mount(8) helper option mapping', () => {
  it('maps fstab options onto start flags and ignores what mount handles', () => {
    expect(parseMountOptions('_netdev,nofail,defaults,rw,auto,sse,ro,noatime,noexec,nosuid,credsFile=/etc/flexfs/v1,umask=022'))
      .toEqual({ sse: true, ro: true, noATime: true, noExec: true, noSUID: true, credsFile: '/etc/flexfs/v1', umask: '022' });
    expect(parseMountOptions('memCapacity=512M,diskFolder=/var/cache/flexfs,diskQuota=5%,nonempty'))
      .toEqual({ memCapacity: '512M', diskFolder: '/var/cache/flexfs', diskQuota: '5%', nonEmpty: true });
    expect(parseMountOptions('noacl')).toEqual({ acl: false });
    expect(parseMountOptions('acl=false')).toEqual({ acl: false });
    expect(parseMountOptions('acl')).toEqual({ acl: true });
    expect(() => parseMountOptions('acl=maybe')).toThrow(/"acl=maybe": expected true or false/);
    expect(() => parseMountOptions('sse,bogus')).toThrow(/unknown mount option "bogus"/);
    expect(() => parseMountOptions('credsFile=')).toThrow(/needs a value/);
  });
  it('sse and sse=require; another value is refused naming the option', () => {
    expect(parseMountOptions('sse=require,ro')).toEqual({ sse: 'require', ro: true });
    expect(parseMountOptions('SSE')).toEqual({ sse: true });
    expect(helperInvocation(['vol', '/mnt/x', '-o', 'sse=require'])?.flags).toEqual({ sse: 'require' });
    expect(() => parseMountOptions('sse=yes')).toThrow(/mount option sse=yes: unknown value; use mount option sse .* or mount option sse=require/);
  });
  it('recognises the helper form and leaves subcommands alone', () => {
    expect(helperInvocation(['vol', '/mnt/x', '-o', 'rw,sse'])).toEqual({ volume: 'vol', mountpoint: '/mnt/x', flags: { sse: true }, fake: false });
    expect(helperInvocation(['vol', '/mnt/x', '-n', '-oro'])?.flags).toEqual({ ro: true });
    expect(helperInvocation(['vol', '/mnt/x', '-f'])?.fake).toBe(true);
    expect(helperInvocation(['start', 'vol', '/mnt'])).toBeUndefined();
    expect(helperInvocation(['init', 'creds', 'vol'])).toBeUndefined();
    expect(() => helperInvocation(['vol', '/mnt/x', 'extra'])).toThrow(/unexpected argument/);
  });
});

describe('mount.flexfs CLI (real processes, real FUSE mounts with --local)', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let env: NodeJS.ProcessEnv;
  const mounted: string[] = [];

  beforeAll(async () => {
    await ensureBuilt([ENTRY]);
    dir = await tempDir('flexfs-mountcli-');
    env = { FLEXFS_HOME: join(dir.path, 'home'), FLEXFS_FSTAB: join(dir.path, 'fstab'), NOTIFY_SOCKET: '' };
  });

  afterAll(async () => {
    for (const mp of mounted) {
      if (await findFuseMount(mp)) await execFileP('fusermount', ['-u', '-z', mp]).catch(() => undefined);
    }
    await dir?.cleanup();
  });

  /** Daemonized start; returns the daemon pid. */
  async function startLocal(volume: string, mp: string, extra: string[] = []): Promise<number> {
    await fsp.mkdir(mp, { recursive: true });
    mounted.push(mp);
    const r = await cli(['start', volume, mp, '--local', join(dir.path, 'local'), ...extra], env);
    expect(r.stderr + r.stdout).toMatch(/mounted \(pid \d+/);
    expect(r.code).toBe(0);
    expect(await findFuseMount(mp)).toMatchObject({ fstype: 'fuse.flexfs', source: volume });
    return Number(/pid (\d+)/.exec(r.stdout)![1]);
  }
  async function stopDaemon(pid: number, mp: string): Promise<void> {
    process.kill(pid, 'SIGTERM');
    await waitFor(async () => !(await findFuseMount(mp)), 30_000, `unmount of ${mp}`);
    await waitFor(() => { try { process.kill(pid, 0); return false; } catch { return true; } }, 30_000, 'daemon exit');
  }

  it('start --help prints the cache defaults from the defaults table', async () => {
    const r = await cli(['start', '--help'], env);
    expect(r.code).toBe(0);
    const help = r.stdout.replace(/\s+/g, ' ');
    expect(help).toContain(START_HELP.memCapacity);
    expect(help).toContain(START_HELP.diskQuota);
    expect(help).toMatch(/default 5% of RAM, at least 64M, at most 1G/);
  });

  it('clear errors: missing mountpoint, missing creds, non-empty mountpoint, unknown option', async () => {
    let r = await cli(['start', 'v1', join(dir.path, 'nope'), '--foreground'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/mountpoint .*nope does not exist/);
    const empty = join(dir.path, 'empty');
    await fsp.mkdir(empty);
    r = await cli(['start', 'v1', empty, '--foreground'], env);
    expect(r.stderr).toMatch(/credentials file .*mount\/creds\/v1 does not exist/);
    const full = join(dir.path, 'full');
    await fsp.mkdir(full);
    await fsp.writeFile(join(full, 'x'), '');
    r = await cli(['start', 'v1', full, '--local', join(dir.path, 'local')], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not empty \(use --nonEmpty/);
    r = await cli(['v1', empty, '-o', '_netdev,frobnicate'], env);
    expect(r.code).toBe(2); // a usage error
    expect(r.stderr).toMatch(/unknown mount option "frobnicate"/);
    r = await cli(['start', 'v1', empty, '--sse=yes', '--foreground'], env);
    expect(r.code).toBe(2); // a usage error
    expect(r.stderr).toMatch(/--sse=yes: unknown value; use --sse .* or --sse=require/);
    r = await cli(['v1', empty, '-o', 'sse=always'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/mount option sse=always: unknown value/);
  });

  it('--local: daemonizes, serves data, refuses a second mount, flushes on SIGTERM, data survives a remount', async () => {
    const mp = join(dir.path, 'mnt1');
    const pid = await startLocal('vol1', mp);
    const data = Buffer.alloc(3 * 2 ** 20 + 123, 7);
    await fsp.writeFile(join(mp, 'file'), data);
    const again = await cli(['start', 'vol1', mp, '--local', join(dir.path, 'local')], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already mounted/);
    await stopDaemon(pid, mp);
    const log = await fsp.readFile(join(dir.path, 'home', 'mount', 'logs', 'vol1.log'), 'utf8');
    expect(log).toMatch(/SIGTERM: flushing and unmounting/);
    // Structured: every line of the log file is a pino JSON record with a level and a message.
    const records = log.trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string; name: string });
    expect(records.length).toBeGreaterThanOrEqual(3);
    for (const r of records) {
      expect(r.name).toBe('mount.flexfs');
      expect(typeof r.level).toBe('number');
      expect(typeof r.msg).toBe('string');
    }
    expect(records.map((r) => r.msg)).toContain('stopped');
    const pid2 = await startLocal('vol1', mp);
    expect((await fsp.readFile(join(mp, 'file'))).equals(data)).toBe(true);
    await stopDaemon(pid2, mp);
  });

  it('mount(8) helper form with -o ro,noacl mounts read-only, the kernel checking mode bits', async () => {
    const mp = join(dir.path, 'mnt-ro');
    await fsp.mkdir(mp);
    mounted.push(mp);
    const r = await cli(['vol1', mp, '-o', `_netdev,nofail,ro,noacl,local=${join(dir.path, 'local')}`], env);
    expect(r.code).toBe(0);
    expect((await findFuseMount(mp))?.options).toMatch(/^ro\b/);
    // noacl reached the daemonized child (--no-acl): default_permissions is back, ACL names are EOPNOTSUPP.
    const line = (await fsp.readFile('/proc/self/mountinfo', 'utf8')).split('\n').find((l) => l.includes(` ${mp} `));
    expect(line).toMatch(/default_permissions/);
    const got = await execFileP('getfattr', ['-n', 'system.posix_acl_access', join(mp, 'file')]).then(() => '', (e: { stderr?: string }) => String(e.stderr));
    expect(got).toMatch(/Operation not supported/);
    await expect(fsp.writeFile(join(mp, 'new'), 'x')).rejects.toMatchObject({ code: 'EROFS' });
    expect((await fsp.stat(join(mp, 'file'))).size).toBe(3 * 2 ** 20 + 123);
    await stopDaemon(Number(/pid (\d+)/.exec(r.stdout)![1]), mp);
  });

  it('a creds file group or others can read is refused with "chmod 600 FILE"; --local files are owner-only', async () => {
    const init = await cli(['init', 'creds', 'openvol', '--metaAddr', 'localhost:1'], env, 'token=tok-open-123\n');
    expect(init.code).toBe(0);
    const credsPath = join(dir.path, 'home', 'mount', 'creds', 'openvol');
    await fsp.chmod(credsPath, 0o644);
    const mp = join(dir.path, 'mnt-open');
    await fsp.mkdir(mp);
    const bad = await cli(['start', 'openvol', mp, '--foreground'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`chmod 600 ${credsPath}`);
    expect(bad.stdout + bad.stderr).not.toContain('tok-open-123');

    const cache = join(dir.path, 'cache-modes');
    const pid = await startLocal('modesvol', join(dir.path, 'mnt-modes'), ['--diskFolder', cache, '--diskQuota', '64M']);
    try {
      await fsp.writeFile(join(dir.path, 'mnt-modes', 'f'), Buffer.alloc(100_000, 3));
      const local = join(dir.path, 'local');
      const modeOf = async (p: string) => [p.slice(dir.path.length), (await fsp.stat(p)).mode & 0o777];
      for (const f of ['meta.db', 'meta.db-wal', 'meta.db-shm']) expect(await modeOf(join(local, f))).toEqual([`/local/${f}`, 0o600]);
      expect(await modeOf(join(local, 'blocks'))).toEqual(['/local/blocks', 0o700]);
      expect(await modeOf(cache)).toEqual(['/cache-modes', 0o700]);
    } finally {
      await stopDaemon(pid, join(dir.path, 'mnt-modes'));
    }
  });

  it('init creds reads secrets from stdin (not argv), 0600; encrypted --local volume; wrong passphrase is refused', async () => {
    const r = await cli(['init', 'creds', 'secvol', '--metaAddr', 'localhost:1'], env, 'token=tok-123\nsecret=correct horse\n');
    expect(r.code).toBe(0);
    const credsPath = join(dir.path, 'home', 'mount', 'creds', 'secvol');
    expect((await fsp.stat(credsPath)).mode & 0o777).toBe(0o600);
    expect(await fsp.readFile(credsPath, 'utf8')).toMatch(/secret = "correct horse"/);
    const mp = join(dir.path, 'mnt-sec');
    const pid = await startLocal('secvol', mp);
    await fsp.writeFile(join(mp, 'plain.txt'), 'top secret text '.repeat(1000));
    await stopDaemon(pid, mp);
    // Blocks on disk hold no plaintext.
    const blocks = (await execFileP('grep', ['-rl', 'top secret text', join(dir.path, 'local', 'blocks')]).catch(() => ({ stdout: '' }))).stdout;
    expect(blocks).toBe('');
    const wrong = join(dir.path, 'wrong-secret');
    await fsp.writeFile(wrong, 'battery staple\n', { mode: 0o600 });
    const bad = await cli(['start', 'secvol', mp, '--local', join(dir.path, 'local'), '--secretFile', wrong], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/wrong passphrase for volume secvol/);
    expect(bad.stderr).not.toMatch(/battery|correct horse/);
    expect(await findFuseMount(mp)).toBeUndefined();
    // A secret file group or others can access is refused as a creds file is: "chmod 600 FILE".
    const right = join(dir.path, 'right-secret');
    await fsp.writeFile(right, 'correct horse\n', { mode: 0o600 });
    for (const mode of [0o644, 0o640, 0o604]) {
      await fsp.chmod(right, mode);
      const open = await cli(['start', 'secvol', mp, '--local', join(dir.path, 'local'), '--secretFile', right], env);
      expect(open.code).toBe(1);
      expect(open.stderr).toContain(`secret file ${right} is accessible by group or others (mode 0${mode.toString(8)})`);
      expect(open.stderr).toContain(`chmod 600 ${right}`);
      expect(open.stderr).not.toMatch(/correct horse/);
      expect(await findFuseMount(mp)).toBeUndefined();
    }
    // owner-only, the same file mounts
    await fsp.chmod(right, 0o600);
    const okPid = await startLocal('secvol', mp, ['--secretFile', right]);
    expect(await fsp.readFile(join(mp, 'plain.txt'), 'utf8')).toBe('top secret text '.repeat(1000));
    await stopDaemon(okPid, mp);
  });

  it('init/deinit fstab', async () => {
    await fsp.writeFile(env.FLEXFS_FSTAB!, '# fstab\n/dev/sda1 / ext4 defaults 0 1\n');
    const mp = join(dir.path, 'fst');
    let r = await cli(['init', 'fstab', 'vol1', mp, '--mountOptions', 'sse,ro'], env);
    expect(r.code).toBe(0);
    expect(await fsp.readFile(env.FLEXFS_FSTAB!, 'utf8')).toContain(`vol1 ${mp} flexfs _netdev,nofail,sse,ro 0 0`);
    r = await cli(['init', 'fstab', 'vol1', mp], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--force/);
    r = await cli(['init', 'fstab', 'vol2', mp, '--force'], env);
    expect(await fsp.readFile(env.FLEXFS_FSTAB!, 'utf8')).toContain(`vol2 ${mp} flexfs _netdev,nofail 0 0`);
    r = await cli(['deinit', 'fstab', mp], env);
    expect(r.code).toBe(0);
    expect(await fsp.readFile(env.FLEXFS_FSTAB!, 'utf8')).toBe('# fstab\n/dev/sda1 / ext4 defaults 0 1\n');
  });
});
