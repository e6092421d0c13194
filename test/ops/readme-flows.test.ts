/**
 * README "Using it", run as written: the section's ```sh blocks are executed by sh, literally,
 * with the real binaries (bin/ on PATH), meta.flexfs on loopback, the run's Ceph RGW as the
 * bucket and a real FUSE mount. Only what must be local is replaced, by this table (each entry
 * must occur in the README, so a reworded block fails here instead of drifting):
 *
 *   README text                 becomes
 *   blockUser=AKIA…             the RGW user's access key
 *   blockPass=…                 its secret key
 *   0.0.0.0:8443                127.0.0.1:<free port>     (meta.flexfs start --bindAddr)
 *   meta.example.com:8443       127.0.0.1:<free port>     (the clients' --metaAddr)
 *   s3://my-bucket/flexfs       s3://<test bucket>/<unique prefix>
 *   https://s3.example.com      the RGW endpoint
 *   /mnt/data                   a temp mountpoint
 *
 * and the environment carries FLEXFS_HOME (a temp folder), FLEXFS_META_ADDR (the admin commands'
 * server, as the README says) and PATH. Block 1 (init creds, then start in the foreground) runs
 * in the background like the operator's first shell; block 2 runs in "another shell".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findFuseMount } from '../../src/fuse/mountinfo.js';
import { openStore } from '../../src/store/index.js';
import { ensureBuilt, REPO_ROOT } from '../harness/build.js';
import { freePort, tempDir, waitFor } from '../harness/ports.js';
import { sharedRgw, type Rgw } from '../harness/rgw.js';
import { readCreds } from '../../src/config/creds.js';

/** The ```sh blocks of the README section `title` (up to the next `## `). */
export function shBlocks(readme: string, title: string): string[] {
  const start = readme.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README has no "## ${title}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/\n```sh\n([\s\S]*?)\n```/g)].map((m) => m[1]);
}

function substitute(block: string, table: [string, string][]): string {
  let out = block;
  for (const [from, to] of table) out = out.split(from).join(to);
  return out;
}

interface Shell { child: ChildProcess; output: () => string; exited: Promise<number | null> }

/** `sh -e FILE` (the script in a 0600 file: the bucket keys stay out of argv), in its own process group. */
async function shell(dir: string, name: string, script: string, env: NodeJS.ProcessEnv): Promise<Shell> {
  const file = join(dir, `${name}.sh`);
  await writeFile(file, script + '\n', { mode: 0o600 });
  const child = spawn('sh', ['-e', file], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}

function listening(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const s = connect({ host: '127.0.0.1', port }, () => { s.destroy(); ok(true); });
    s.once('error', () => ok(false));
  });
}

describe('README "Using it" runs verbatim', () => {
  let rgw: Rgw;
  let dir: { path: string; cleanup: () => Promise<void> };
  let server: Shell | undefined;
  let mountpoint: string;
  let mountPid = 0;

  beforeAll(async () => {
    await ensureBuilt(['dist/src/cli/meta/main.js', 'dist/src/cli/mount/main.js']);
    rgw = await sharedRgw();
    dir = await tempDir('flexfs-readme-');
    mountpoint = join(dir.path, 'mnt');
    await mkdir(mountpoint);
  });

  afterAll(async () => {
    if (mountPid) {
      try { process.kill(mountPid, 'SIGTERM'); } catch { /* gone */ }
      await waitFor(async () => !(await findFuseMount(mountpoint)), 30_000, `unmount of ${mountpoint}`).catch(() => undefined);
    }
    if (server?.child.pid) { try { process.kill(-server.child.pid, 'SIGTERM'); } catch { /* gone */ } }
    await server?.exited;
    await rgw?.stop();
    await dir?.cleanup();
  });

  it('init creds, start, volume create, token create, mount init creds --trustOnFirstUse, mount start', async () => {
    const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
    const blocks = shBlocks(readme, 'Using it');
    expect(blocks, 'README "Using it" should hold two sh blocks: the server, then the other shell').toHaveLength(2);
    const port = await freePort();
    const prefix = `readme-${randomBytes(4).toString('hex')}`;
    const table: [string, string][] = [
      ['blockUser=AKIA…', `blockUser=${rgw.accessKey}`],
      ['blockPass=…', `blockPass=${rgw.secretKey}`],
      ['0.0.0.0:8443', `127.0.0.1:${port}`],
      ['meta.example.com:8443', `127.0.0.1:${port}`],
      ['s3://my-bucket/flexfs', `s3://${rgw.bucket}/${prefix}`],
      ['https://s3.example.com', rgw.endpoint],
      ['/mnt/data', mountpoint],
    ];
    const text = blocks.join('\n');
    for (const [from] of table) expect(text, `README "Using it" no longer says ${from}: update the table in ${import.meta.filename}`).toContain(from);

    const home = join(dir.path, 'home');
    const env = {
      ...process.env, PATH: `${join(REPO_ROOT, 'bin')}:${process.env.PATH}`, FLEXFS_HOME: home,
      FLEXFS_META_ADDR: `127.0.0.1:${port}`, NOTIFY_SOCKET: '', FLEXFS_TEST_FAULTS: '',
    };

    // The first shell: server creds, then meta.flexfs in the foreground (it keeps running).
    server = await shell(dir.path, 'server', substitute(blocks[0], table), env);
    await waitFor(async () => {
      if (server!.child.exitCode !== null) throw new Error(`block 1 exited early:\n${server!.output()}`);
      return listening(port);
    }, 60_000, `meta.flexfs listening on ${port}`, 200);
    const fingerprint = /SHA-256 fingerprint:\s+([0-9A-F:]{95})/.exec(server.output())?.[1];
    expect(fingerprint, server.output()).toBeDefined();

    // The other shell: volume, token, client creds with trust on first use, the mount.
    const client = await shell(dir.path, 'client', substitute(blocks[1], table), env);
    const code = await Promise.race([client.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 240_000).unref())]);
    const out = client.output();
    if (code === 'timeout' && client.child.pid) process.kill(-client.child.pid, 'SIGKILL');
    expect(code, out).toBe(0);
    mountPid = Number(/mounted \(pid (\d+)/.exec(out)?.[1] ?? 0);
    expect(mountPid, out).toBeGreaterThan(0);
    // What the client pinned is what the server printed at init, and the operator was told.
    expect(out).toContain(`pinned the certificate meta server 127.0.0.1:${port} presented now, SHA-256 ${fingerprint}`);
    const credsFile = join(home, 'mount', 'creds', 'data');
    expect((await readCreds(credsFile)).metaFingerprint).toBe(fingerprint);
    expect((await stat(credsFile)).mode & 0o777).toBe(0o600);
    expect(out).not.toContain(rgw.secretKey);

    // The mount is live and stores its blocks in the bucket the README named.
    expect(await findFuseMount(mountpoint)).toMatchObject({ fstype: 'fuse.flexfs', source: 'data' });
    const body = randomBytes(300_000);
    await writeFile(join(mountpoint, 'hello.bin'), body);
    expect((await readFile(join(mountpoint, 'hello.bin'))).equals(body)).toBe(true);
    const bucket = openStore({ url: `s3://${rgw.bucket}/${prefix}`, endpoint: rgw.endpoint, region: rgw.region, pathStyle: true,
      blockUser: rgw.accessKey, blockPass: rgw.secretKey });
    try {
      const page = await waitFor(async () => { const p = await bucket.list(''); return p.objects.length > 0 ? p : false; }, 60_000, 'a block in the bucket', 500);
      expect(page.objects.length).toBeGreaterThan(0);
    } finally {
      await bucket.close();
    }
  }, 420_000);
});
