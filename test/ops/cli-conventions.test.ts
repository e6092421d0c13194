import { describe, expect, it, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

  it('runtime failures exit 1', async () => {
    expect((await cli('mount.flexfs', ['start', 'v', '/nonexistent-mountpoint-x', '--foreground'])).code).toBe(1);
    expect((await cli('meta.flexfs', ['volume', 'list', '--addr', '127.0.0.1:1'])).code).toBe(1);
    expect((await cli('proxy.flexfs', ['start', '--store', 's3://bucket', '--bindAddr', '127.0.0.1:1', '--credsFile', '/nonexistent'])).code).toBe(1);
  });
});
