import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { writeCreds } from '../../src/config/creds.js';
import { createEncryption } from '../../src/codec/index.js';
import { AdminClient } from '../../src/meta/client/index.js';
import { openStore } from '../../src/store/index.js';
import type { StartedMount } from '../harness/mount.js';
import { waitFor } from '../harness/ports.js';
import { sharedRgw, type Rgw } from '../harness/rgw.js';
import { ensureBuilt as ensureMetaBuilt, startDaemon, type Daemon } from '../meta-server/harness.js';
import {
  buildMountClient, fileSha, metaRequests, MOUNT_ENTRY, mountRemote, patternBytes, run, sha256, spawnScript, workDir, writeRandomFile,
} from './helpers.js';

const MiB = 2 ** 20;
const BS = 4 * MiB;
const ADMIN_TOKEN = 'mount-remote-admin-token-0123456789';
const WRITER = join(import.meta.dirname, 'crash-writer.mjs');

/**
 * The distributed setup through real mounts: meta.flexfs (child process, TLS with its self-signed
 * certificate, sqlite engine) + a Ceph RGW bucket, `mount.flexfs start <vol> <mnt>` with a creds
 * file in a temp FLEXFS_HOME. Integrity (0 B … 200 MiB) across a remount and a second mount, an E2E volume whose
 * bucket objects hold no plaintext, and a meta.flexfs restart while a writer runs.
 */
describe('remote: meta.flexfs + RGW through real mounts', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let rgw: Rgw;
  let meta: Daemon | undefined;
  let admin: AdminClient;
  let home: string;
  const mounts: StartedMount[] = [];
  const prefix = `mount-test-${randomBytes(4).toString('hex')}`;

  const startMeta = async (port?: number) => {
    meta = await startDaemon({ home, port, args: ['--dbFolder', join(home, 'db'), '--sessionTtl', '120'] });
    return meta;
  };

  /** A volume on the bucket and a creds file for it (secret = E2E passphrase). */
  async function makeVolume(name: string, secret?: string): Promise<void> {
    const encryption = secret ? (await createEncryption(secret)).params : undefined;
    await admin.createVolume({
      name,
      encryption,
      blockStore: { url: `s3://${rgw.bucket}/${prefix}`, endpoint: rgw.endpoint, region: rgw.region, pathStyle: true },
    });
    const token = await admin.createToken({ volume: name, label: 'mount test' });
    await writeCreds(join(home, 'mount', 'creds', name), {
      metaAddr: `127.0.0.1:${meta!.port}`, token: token.secret, metaCA: join(home, 'meta', 'tls', 'cert.pem'),
      ...(secret ? { secret } : {}),
    });
  }

  /** Read every object of a volume straight from the bucket; keys of those containing a sample. */
  async function scanBucket(volume: string, samples: Buffer[]): Promise<{ objects: number; hits: string[] }> {
    const store = openStore({ url: `s3://${rgw.bucket}`, endpoint: rgw.endpoint, region: rgw.region, pathStyle: true,
      blockUser: rgw.accessKey, blockPass: rgw.secretKey });
    const vol = (await admin.getVolume(volume)).id;
    let objects = 0;
    const hits: string[] = [];
    try {
      let after: string | undefined;
      do {
        const page = await store.list(`${prefix}/${vol}/`, { after });
        for (const o of page.objects) {
          objects++;
          const body = await store.get(o.key);
          if (samples.some((x) => body.includes(x))) hits.push(o.key);
        }
        after = page.next;
      } while (after);
    } finally {
      await store.close();
    }
    return { objects, hits };
  }

  async function mount(volume: string, name: string): Promise<StartedMount> {
    const m = await mountRemote(volume, join(dir.path, name), home);
    mounts.push(m);
    return m;
  }

  beforeAll(async () => {
    await buildMountClient();
    await ensureMetaBuilt();
    dir = await workDir('flexfs-mremote-');
    home = join(dir.path, 'home');
    rgw = await sharedRgw();
    // The server hands these bucket credentials to mounts over the authenticated session.
    await writeCreds(join(home, 'meta', 'creds'), { adminToken: ADMIN_TOKEN, blockUser: rgw.accessKey, blockPass: rgw.secretKey });
    await startMeta();
    admin = new AdminClient(`127.0.0.1:${meta!.port}`, ADMIN_TOKEN, { ca: join(home, 'meta', 'tls', 'cert.pem') });
    await makeVolume('rvol');
    await makeVolume('rsec', 'remote e2e passphrase for the mount test');
  }, 300_000);

  afterAll(async () => {
    for (const m of mounts) await m.stop();
    await meta?.stop();
    await rgw?.stop();
    await dir?.cleanup();
  });

  it('integrity: files of many sizes, sparse, overwrite, append, truncate read back after a remount and from a second mount', async () => {
    let a = await mount('rvol', 'a');
    const want = new Map<string, { sha: string; size: number }>();
    for (const [i, size] of [0, 1, 4097, BS - 1, BS, BS + 1, 2 * BS + 999].entries()) {
      const d = patternBytes(500 + i, size);
      await fsp.writeFile(join(a.mountpoint, `s${size}`), d);
      want.set(`s${size}`, { sha: sha256(d), size });
    }
    want.set('big', { sha: await writeRandomFile(join(a.mountpoint, 'big'), 40 * MiB), size: 40 * MiB });
    // sparse + overwrite across a block boundary + append + shrink/grow
    const model = Buffer.alloc(12 * MiB);
    const fh = await fsp.open(join(a.mountpoint, 'mixed'), 'w');
    const w = async (seed: number, len: number, at: number) => {
      const d = patternBytes(seed, len);
      await fh.write(d, 0, len, at);
      d.copy(model, at);
    };
    await w(600, 3 * MiB, 0);
    await w(601, MiB, 9 * MiB); // hole in between
    await w(602, MiB, BS - MiB / 2); // overwrite across the boundary
    await fh.truncate(10 * MiB - 5);
    await fh.truncate(12 * MiB); // the shrunk tail reads as zeros
    model.fill(0, 10 * MiB - 5);
    await fh.close();
    await fsp.appendFile(join(a.mountpoint, 'mixed'), 'appended');
    const mixed = Buffer.concat([model, Buffer.from('appended')]);
    want.set('mixed', { sha: sha256(mixed), size: mixed.length });

    const verify = async (mp: string) => {
      for (const [name, x] of want) expect(await fileSha(join(mp, name)), `${name} on ${mp}`).toEqual(x);
    };
    await verify(a.mountpoint);
    const b = await mount('rvol', 'b');
    await verify(b.mountpoint);
    // close-to-open from B back to A
    const fromB = patternBytes(700, 3 * MiB + 3);
    await fsp.writeFile(join(b.mountpoint, 'from-b'), fromB);
    expect(sha256(await fsp.readFile(join(a.mountpoint, 'from-b')))).toBe(sha256(fromB));
    want.set('from-b', { sha: sha256(fromB), size: fromB.length });
    await b.stop();
    await a.stop();
    a = await mount('rvol', 'a');
    await verify(a.mountpoint);
    await a.stop();
  });

  it('a 200 MiB file (overwritten across a block boundary mid-file, shrunk, grown sparse, appended) reads back byte-identical from a second mount and after a remount', async () => {
    const a = await mount('rvol', 'huge-a');
    const path = (mp: string) => join(mp, 'huge');
    const SIZE = 200 * MiB;
    const END = 211 * MiB + 3;
    const model = Buffer.alloc(END); // zeros where the file has holes
    // 200 MiB streamed in 1 MiB pieces from a seeded generator, then fsync'ed.
    let fh = await fsp.open(path(a.mountpoint), 'w');
    for (let i = 0; i < SIZE / MiB; i++) {
      const piece = patternBytes(10_000 + i, MiB);
      await fh.write(piece, 0, MiB, i * MiB);
      piece.copy(model, i * MiB);
    }
    await fh.sync();
    await fh.close();
    // Overwrite 3 MiB + 5 across the block boundary at 100 MiB (block 25), then shrink into a block
    // and grow again: 180 MiB + 7 … 210 MiB is a hole (whole slots stored as nothing).
    fh = await fsp.open(path(a.mountpoint), 'r+');
    const middle = patternBytes(20_000, 3 * MiB + 5);
    await fh.write(middle, 0, middle.length, 100 * MiB - 12_345);
    middle.copy(model, 100 * MiB - 12_345);
    await fh.truncate(180 * MiB + 7);
    await fh.truncate(210 * MiB);
    await fh.close();
    model.fill(0, 180 * MiB + 7, 210 * MiB);
    const tail = patternBytes(30_000, MiB + 3);
    await fsp.appendFile(path(a.mountpoint), tail);
    tail.copy(model, 210 * MiB);
    const want = { sha: sha256(model), size: END };

    expect(await fileSha(path(a.mountpoint)), 'on the writing mount').toEqual(want);
    const b = await mount('rvol', 'huge-b');
    expect(await fileSha(path(b.mountpoint)), 'from a second mount').toEqual(want);
    await b.stop();
    await a.stop();
    const again = await mount('rvol', 'huge-a');
    expect(await fileSha(path(again.mountpoint)), 'after a remount').toEqual(want);
    await again.stop();
  }, 900_000);

  it('E2E volume: the bucket holds no plaintext of what was written, and it reads back', async () => {
    const m = await mount('rsec', 'sec');
    const needle = Buffer.from('REMOTE-PLAINTEXT-NEEDLE-91ab: lorem ipsum dolor. ');
    const text = Buffer.concat(Array.from({ length: 30_000 }, () => needle));
    const random = patternBytes(800, 6 * MiB + 5);
    await fsp.writeFile(join(m.mountpoint, 'text'), text);
    await fsp.writeFile(join(m.mountpoint, 'random'), random);
    await m.stop();
    const samples = [needle.subarray(0, 24), random.subarray(0, 64), random.subarray(5 * MiB, 5 * MiB + 64)];
    const scan = await scanBucket('rsec', samples);
    expect(scan.objects).toBeGreaterThanOrEqual(3);
    expect(scan.hits).toEqual([]);
    // Control: the same scan does find plaintext on the unencrypted volume (random data is stored raw).
    expect((await scanBucket('rvol', [patternBytes(502, 4097).subarray(0, 64)])).hits.length).toBeGreaterThan(0);
    const again = await mount('rsec', 'sec');
    expect(sha256(await fsp.readFile(join(again.mountpoint, 'text')))).toBe(sha256(text));
    expect(sha256(await fsp.readFile(join(again.mountpoint, 'random')))).toBe(sha256(random));
    await again.stop();
  });

  it('a wrong token or a wrong passphrase is a clear error naming the problem, never the secret', async () => {
    const mp = join(dir.path, 'refused');
    await fsp.mkdir(mp, { recursive: true });
    const cases = [
      { volume: 'rvol', creds: { token: 'not-a-valid-token-4711' }, expect: /token/i, secret: 'not-a-valid-token-4711' },
      { volume: 'rsec', creds: { secret: 'a wrong passphrase 0815' }, expect: /wrong passphrase/i, secret: 'a wrong passphrase 0815' },
    ];
    for (const c of cases) {
      const good = await fsp.readFile(join(home, 'mount', 'creds', c.volume), 'utf8');
      const credsFile = join(dir.path, `bad-${c.volume}.creds`);
      const token = /token = "([^"]+)"/.exec(good)![1];
      await writeCreds(credsFile, {
        metaAddr: `127.0.0.1:${meta!.port}`, token, metaCA: join(home, 'meta', 'tls', 'cert.pem'),
        ...(c.volume === 'rsec' ? { secret: 'placeholder' } : {}), ...c.creds,
      });
      const r = await run(process.execPath, [MOUNT_ENTRY, 'start', c.volume, mp, '--foreground', '--credsFile', credsFile],
        { timeoutMs: 60_000, env: { FLEXFS_HOME: home, NOTIFY_SOCKET: '', FLEXFS_TEST_FAULTS: '' } });
      expect(r.code, r.stderr).not.toBe(0);
      expect(r.stderr).toMatch(c.expect);
      expect(r.stderr + r.stdout).not.toContain(c.secret);
    }
    expect(await fsp.readdir(mp)).toEqual([]); // nothing was mounted there
  });

  it('writes cost no metadata call for security.capability: the kernel asks before each write, the mount answers from memory', async () => {
    const m = await mount('rvol', 'cap');
    const ca = await fsp.readFile(join(home, 'meta', 'tls', 'cert.pem'));
    const getxattrCalls = () => metaRequests(meta!.port, ca, (labels) => labels.includes('op="getxattr"'));
    // 32 writes of 1 MiB into each of two files this mount created: each write is a kernel
    // GETXATTR security.capability (FUSE turns off the kernel's own "no capability" cache); a
    // file this mount created is known to have none. (The creates themselves may read the
    // directory's default ACL: not counted here.)
    for (const name of ['cap-a', 'cap-b']) await fsp.writeFile(join(m.mountpoint, name), '');
    const before = await getxattrCalls();
    for (const name of ['cap-a', 'cap-b']) {
      const r = await run('dd', ['if=/dev/zero', `of=${join(m.mountpoint, name)}`, 'bs=1M', 'count=32', 'conv=notrunc', 'status=none']);
      expect(r.code, r.stderr).toBe(0);
    }
    expect(await getxattrCalls() - before).toBe(0);
    // A file this mount did not create: one call at the first write, none for the next 31.
    const other = join(m.mountpoint, 'cap-remount');
    await fsp.writeFile(other, 'x');
    await m.stop();
    const m2 = await mount('rvol', 'cap');
    const mid = await getxattrCalls();
    const r = await run('dd', ['if=/dev/zero', `of=${other}`, 'bs=1M', 'count=32', 'conv=notrunc', 'oflag=append', 'status=none']);
    expect(r.code, r.stderr).toBe(0);
    expect(await getxattrCalls() - mid).toBeLessThanOrEqual(1);
    expect((await fsp.stat(other)).size).toBe(32 * MiB + 1);
    await m2.stop();
  });

  it('meta.flexfs killed and restarted mid-run: fsyncs succeed or fail with EIO, nothing acknowledged is lost, the mount reconnects', async () => {
    const m = await mount('rvol', 'restart');
    const work = join(m.mountpoint, 'run');
    await fsp.mkdir(work);
    const writer = spawnScript(WRITER, ['write', work]);
    try {
      const acked = () => writer.lines.filter((l) => l.startsWith('ACK')).length;
      await waitFor(() => acked() >= 10 || writer.lines.some((l) => l.startsWith('ERR')), 60_000, 'the writer to get going');
      const port = meta!.port;
      await meta!.kill9();
      const before = acked();
      await new Promise((r) => setTimeout(r, 2_000)); // an outage the writer runs into
      await startMeta(port);
      // Either the writer carries on (its calls waited for the reconnect) or it stopped with EIO.
      await waitFor(() => acked() >= before + 10 || writer.lines.some((l) => l.startsWith('ERR')), 90_000, 'the writer after the restart');
      const errs = writer.lines.filter((l) => l.startsWith('ERR'));
      expect(errs.every((l) => l === 'ERR EIO'), errs.join(',')).toBe(true);
    } finally {
      writer.kill();
      await writer.exited;
    }
    const acks = { log: [0, 0, 0], ow: 0, dir: -1, allowMixed: true };
    for (const l of writer.lines) {
      const [tag, what, x, y] = l.split(' ');
      if (tag !== 'ACK') continue;
      if (what === 'log') acks.log[Number(x)] = Math.max(acks.log[Number(x)], Number(y));
      if (what === 'ow') acks.ow = Math.max(acks.ow, Number(x));
      if (what === 'dir') acks.dir = Math.max(acks.dir, Number(x));
    }
    // The same mount works after the restart, and a fresh mount agrees about what is stored.
    await fsp.writeFile(join(m.mountpoint, 'after-restart'), 'still here');
    expect(await fsp.readFile(join(m.mountpoint, 'after-restart'), 'utf8')).toBe('still here');
    await m.stop();
    const fresh = await mount('rvol', 'restart');
    const v = await run(process.execPath, [WRITER, 'verify', join(fresh.mountpoint, 'run'), JSON.stringify(acks)], { timeoutMs: 120_000 });
    expect(JSON.parse(v.stdout.trim().split('\n').pop() ?? '{}')).toEqual({ problems: [] });
    expect(await fsp.readFile(join(fresh.mountpoint, 'after-restart'), 'utf8')).toBe('still here');
    await fresh.stop();
  });
});
