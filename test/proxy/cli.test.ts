/** proxy.flexfs command line: init creds, init systemd, version, start's errors. Real child processes. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../harness/ports.js';
import { ensureBuilt, runCli } from './harness.js';

describe('proxy.flexfs CLI', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    await ensureBuilt();
    dir = await tempDir('flexfs-proxy-cli-');
  });
  afterAll(async () => {
    await dir?.cleanup();
  });

  it('version prints the package version', async () => {
    const r = await runCli(['version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^proxy\.flexfs \d+\.\d+\.\d+/);
  });

  it('init creds reads secrets from stdin, writes 0600 TOML, and generates a token when none is given', async () => {
    const home = join(dir.path, 'h1');
    const r = await runCli(['init', 'creds', '--blockUser', 'AKIDEXAMPLE'], { env: { FLEXFS_HOME: home }, stdin: 'blockPass=s3cretPass\n' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('s3cretPass');
    const file = join(home, 'proxy', 'creds');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const text = await readFile(file, 'utf8');
    expect(text).toMatch(/blockUser = "AKIDEXAMPLE"/);
    expect(text).toMatch(/blockPass = "s3cretPass"/);
    const token = /generated proxy token \(give it to mount clients\): (\S+)/.exec(r.stdout)?.[1];
    expect(token && token.length).toBeGreaterThanOrEqual(32);
    expect(text).toContain(`token = "${token}"`);
    const bad = await runCli(['init', 'creds'], { env: { FLEXFS_HOME: home }, stdin: 'password=x\n' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/unknown field "password"/);
  });

  it('init systemd prints the packaged unit and the env file with the start flags, never secrets', async () => {
    const r = await runCli(['init', 'systemd', '--store', 's3://bkt/pfx', '--endpoint', 'http://10.0.0.1:7480',
      '--diskQuota', '20%', '--sse', '--bindAddr', '0.0.0.0:9450', '--credsFile', '/etc/flexfs/proxy/creds']);
    expect(r.code, r.stderr).toBe(0);
    const packaged = await readFile(new URL('../../packaging/systemd/flexfs-proxy.service', import.meta.url), 'utf8');
    expect(r.stdout.startsWith(packaged)).toBe(true);
    const env = r.stdout.split('\n').find((l) => l.startsWith('# FLEXFS_PROXY_ARGS='))!;
    expect(env).toContain('--store s3://bkt/pfx --bindAddr 0.0.0.0:9450');
    expect(env).toContain('--diskQuota 20%');
    expect(env).toContain('--sse');
    expect(env).toContain('--endpoint http://10.0.0.1:7480');
    const req = await runCli(['init', 'systemd', '--store', 's3://bkt', '--sse=require']);
    expect(req.code, req.stderr).toBe(0);
    expect(req.stdout.split('\n').find((l) => l.startsWith('# FLEXFS_PROXY_ARGS='))).toContain('--sse=require');
    expect(env).toContain('--credsFile /etc/flexfs/proxy/creds');
    const dir = await tempDir();
    try {
      const w = await runCli(['init', 'systemd', '--now', '--store', 's3://bkt', '--unitDir', dir.path, '--envDir', dir.path]);
      expect(w.code, w.stderr).toBe(0);
      expect(await readFile(join(dir.path, 'flexfs-proxy.service'), 'utf8')).toBe(packaged);
      const written = await readFile(join(dir.path, 'proxy.env'), 'utf8');
      expect(written).toMatch(/^FLEXFS_PROXY_ARGS="--store s3:\/\/bkt /);
      // Not given: the unit's own creds file and cache folder apply, not the caller's home.
      expect(written).not.toMatch(/--credsFile|--diskFolder/);
      const home = await runCli(['init', 'systemd', '--store', 's3://bkt', '--credsFile', '/root/.flexfs/proxy/creds']);
      expect(home.code).not.toBe(0);
      expect(home.stderr).toMatch(/--credsFile \/root\/\.flexfs\/proxy\/creds is under a home folder.*ProtectHome/);
    } finally { await dir.cleanup(); }
  });

  it('--maxPuts/--maxQueuedPuts: defaults in --help; init systemd passes them only when not default', async () => {
    const help = await runCli(['start', '--help']);
    expect(help.stdout).toMatch(/--maxPuts <n>[\s\S]*?\(default:\s+"16"\)/);
    expect(help.stdout).toMatch(/--maxQueuedPuts <n>[\s\S]*?\(default:\s+"1024"\)/);
    const argsOf = async (extra: string[]) => {
      const r = await runCli(['init', 'systemd', '--store', 's3://bkt', ...extra]);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.split('\n').find((l) => l.startsWith('# FLEXFS_PROXY_ARGS='))!;
    };
    const set = await argsOf(['--maxPuts', '8', '--maxQueuedPuts', '100']);
    expect(set).toContain('--maxPuts 8');
    expect(set).toContain('--maxQueuedPuts 100');
    const defaults = await argsOf(['--maxPuts', '16']);
    expect(defaults).not.toMatch(/--maxPuts|--maxQueuedPuts/);
    const bad = await runCli(['start', '--store', `file://${dir.path}/bucket`, '--maxPuts', '0']);
    expect(bad.code).not.toBe(0);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('option \'--maxPuts <n>\' argument \'0\' is invalid. "0": expected a whole number ≥ 1');
  });

  it('start fails clearly on missing credentials and on a bad quota or address', async () => {
    const home = join(dir.path, 'h2');
    const base = ['start', '--store', `file://${dir.path}/bucket`, '--diskFolder', join(dir.path, 'cache'), '--bindAddr', '127.0.0.1:0'];
    const missing = await runCli(base, { env: { FLEXFS_HOME: home } });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/credentials file .*proxy\/creds does not exist/);
    await runCli(['init', 'creds'], { env: { FLEXFS_HOME: home }, stdin: 'token=tok-123456\n' });
    const quota = await runCli([...base, '--diskQuota', 'lots'], { env: { FLEXFS_HOME: home } });
    expect(quota.code).toBe(2); // a bad flag value is a usage error
    expect(quota.stderr).toMatch(/--diskQuota <size>' argument 'lots' is invalid\. size "lots"/);
    const addr = await runCli([...base.slice(0, -1), 'nonsense'], { env: { FLEXFS_HOME: home } });
    expect(addr.code).toBe(2);
    expect(addr.stderr).toMatch(/--bindAddr <host:port>' argument 'nonsense' is invalid\. "nonsense": expected host:port/);
    expect(quota.stderr + addr.stderr).not.toContain('tok-123456');
    const sse = await runCli([...base, '--sse=yes'], { env: { FLEXFS_HOME: home } });
    expect(sse.code).toBe(2); // refused by the option parser: a usage error
    expect(sse.stderr).toMatch(/--sse=yes: unknown value; use --sse .* or --sse=require/);
  });
});
