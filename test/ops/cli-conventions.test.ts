import { describe, expect, it, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { writeCreds } from '../../src/config/creds.js';
import { join } from 'node:path';
import { ensureBuilt, REPO_ROOT } from '../harness/build.js';

const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

function cli(bin: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(join(REPO_ROOT, 'bin', bin), args, { timeout: 60_000, env: { ...process.env, FLEXFS_HOME: '/nonexistent-flexfs-home' } }, (e, out, err) => {
      const code = e ? (typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : -1) : 0;
      resolve({ code, out: String(out), err: String(err) });
    });
  });
}

/**
 * One convention for the four binaries (docs/OPERATIONS.md): exit 0 on success, 1 on a runtime
 * failure, 2 on a usage error; `--version`, `-V` and `version` everywhere.
 */
describe('CLI conventions of mount.flexfs, meta.flexfs, proxy.flexfs and flexfs', () => {
  beforeAll(async () => {
    await ensureBuilt(['mount/main', 'meta/main', 'proxy/index', 'flexfs/main'].map((m) => `dist/src/cli/${m}.js`));
  }, 300_000);

  for (const bin of ['mount.flexfs', 'meta.flexfs', 'proxy.flexfs', 'flexfs']) {
    it(`${bin}: usage errors exit 2 naming what is wrong; --version, -V and version print the version`, async () => {
      const bogus = await cli(bin, ['--bogus']);
      expect(bogus.code).toBe(2);
      expect(bogus.err).toMatch(/unknown option '--bogus'/);
      const missing = await cli(bin, [bin === 'flexfs' ? 'status' : bin === 'mount.flexfs' ? 'start' : bin === 'meta.flexfs' ? 'gc' : 'start',
        ...(bin === 'meta.flexfs' ? ['--concurrency'] : [])]);
      expect(missing.code).toBe(2);
      expect(missing.err).toMatch(/error: (missing required argument|argument missing|option .* argument missing|required option)/);
      for (const v of ['--version', '-V', 'version']) {
        const r = await cli(bin, [v]);
        expect(r.code, `${bin} ${v}`).toBe(0);
        expect(r.out).toContain(VERSION);
      }
    });
  }

  // A bad flag VALUE is a usage error too: exit 2, naming the flag and the form it expects.
  const badValues: Array<[string, string[], RegExp]> = [
    ['mount.flexfs', ['start', 'v', '/tmp', '--diskQuota', '10Q'], /--diskQuota size "10Q": expected bytes, a size like 64M/],
    ['mount.flexfs', ['start', 'v', '/tmp', '--storeDeadline', '5x'], /--storeDeadline "5x": expected seconds or a duration/],
    ['mount.flexfs', ['start', 'v', '/tmp', '--metricsPort', '127.0.0.1:70000'], /--metricsPort "127\.0\.0\.1:70000": expected \[host:\]port with a port from 0 to 65535/],
    ['mount.flexfs', ['start', 'v', '/tmp', '--attrTTL', '-1'], /--attrTTL "-1": expected seconds, a number ≥ 0/],
    ['mount.flexfs', ['start', 'v', '/tmp', '--logKeep', '0'], /option '--logKeep <n>' argument '0' is invalid\. "0": expected a whole number ≥ 1/],
    ['mount.flexfs', ['v', '/tmp', '-o', 'memcapacity=lots'], /--memCapacity size "lots": expected bytes/],
    ['meta.flexfs', ['start', '--sessionTtl', '0'], /option '--sessionTtl <seconds>' argument '0' is invalid\. "0": expected a whole number ≥ 1/],
    ['meta.flexfs', ['start', '--bindAddr', '0.0.0.0:99999'], /option '--bindAddr <host:port>' argument '0\.0\.0\.0:99999' is invalid\. .*port from 0 to 65535/],
    ['meta.flexfs', ['start', '--logMaxSize', '1Q'], /option '--logMaxSize <size>' argument '1Q' is invalid\. size "1Q"/],
    ['meta.flexfs', ['gc', '--orphanAge', '5x'], /option '--orphanAge <duration>' argument '5x' is invalid\. duration "5x": expected seconds or a number with s\/m\/h\/d/],
    ['meta.flexfs', ['volume', 'create', 'v', '--store', 's3://b', '--blockSize', 'big'], /option '--blockSize <size>' argument 'big' is invalid\. size "big"/],
    ['proxy.flexfs', ['start', '--store', 's3://b', '--diskQuota', '10Q'], /option '--diskQuota <size>' argument '10Q' is invalid\. size "10Q"/],
    ['proxy.flexfs', ['start', '--store', 's3://b', '--maxGets', '0'], /option '--maxGets <n>' argument '0' is invalid\. "0": expected a whole number ≥ 1/],
    ['proxy.flexfs', ['start', '--store', 's3://b', '--logFormat', 'xml'], /option '--logFormat <format>' argument 'xml' is invalid\. "xml": expected text, json, journal/],
    ['flexfs', ['status', 'v', '--addr', 'ftp://meta:9440'], /option '--addr <host:port>' argument 'ftp:\/\/meta:9440' is invalid\. .*unknown scheme ftp/],
  ];
  for (const [bin, args, why] of badValues) {
    it(`${bin} ${args.join(' ')}: a usage error (2) naming the flag`, async () => {
      const r = await cli(bin, args);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(why);
    });
  }

  it('runtime failures exit 1', async () => {
    expect((await cli('mount.flexfs', ['start', 'v', '/nonexistent-mountpoint-x', '--foreground'])).code).toBe(1);
    expect((await cli('meta.flexfs', ['volume', 'list', '--addr', '127.0.0.1:1'])).code).toBe(1);
    expect((await cli('proxy.flexfs', ['start', '--store', 's3://bucket', '--bindAddr', '127.0.0.1:1', '--credsFile', '/nonexistent'])).code).toBe(1);
    expect((await cli('flexfs', ['status', '/nonexistent-mountpoint-x'])).code).toBe(1);
  });

  it('mount.flexfs start against a metadata server that does not answer: exit 1 at once, naming the server', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flexfs-cli-meta-down-'));
    try {
      const creds = join(dir, 'creds');
      await writeCreds(creds, { metaAddr: '127.0.0.1:1', token: 'not-a-real-token', metaFingerprint: Array(32).fill('AB').join(':') });
      await mkdir(join(dir, 'mnt'));
      const r = await cli('mount.flexfs', ['start', 'v', join(dir, 'mnt'), '--foreground', '--credsFile', creds]);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/cannot connect to meta server https:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/);
      expect(r.err).not.toContain('not-a-real-token');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
