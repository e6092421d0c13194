import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { writeCreds } from '../../src/config/creds.js';
import { createEncryption, unlockDataKey } from '../../src/codec/index.js';
import { createNameCipher } from '../../src/codec/names.js';
import { startMount, type StartedMount } from '../harness/mount.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import { runCli } from '../meta-server/harness.js';
import { startDaemonEnv, type DaemonEnv } from '../meta-server/daemon-setup.js';
import { buildMountClient, filesContaining, MOUNT_ENTRY, mountLocal, ok, workDir } from './helpers.js';

/**
 * End-to-end encrypted volumes hide names too: after files, directories, symlinks and xattrs with
 * distinctive names are written through a real mount, the metadata engine's bytes (sqlite meta.db
 * with its -wal, every Redis key and value) hold none of those names, targets, xattr names or
 * values; they read back by name after a remount. An older E2E volume (no nameEncryption flag)
 * still mounts, reads and keeps its plaintext names.
 */

const PASSPHRASE = 'e2e names passphrase for the mount test';
const DIR_A = 'zebra-dir-3c1e';
const DIR_B = 'yak-dir-8f0d';
const FILE = 'walrus-file-Grüße-文件';
const LONG = 'narwhal-' + 'n'.repeat(247); // 255 bytes
const LINK = 'okapi-link-77ab';
const TARGET = '../quokka-target-5e2d/over/there';
const XNAME = 'user.axolotl-xattr-41c9';
const XVALUE = 'pangolin-value-d93a';
const MOVED = 'capybara-moved-1b6e';
const SUBDIR = 'tapir-subdir-90c2';

/** Everything distinctive that was written, as byte needles (the unicode part in UTF-8 too). */
const NEEDLES = [DIR_A, DIR_B, 'walrus', 'Grüße', '文件', 'narwhal', 'nnnnnnnnnnnn', LINK, 'quokka', 'axolotl', XVALUE, 'capybara', 'tapir']
  .map((s) => Buffer.from(s, 'utf8'));

/** Write the tree through the mount at `mp` with the usual tools (the kernel path). */
async function writeTree(mp: string): Promise<void> {
  await fsp.mkdir(join(mp, DIR_A));
  await fsp.mkdir(join(mp, DIR_B));
  await fsp.mkdir(join(mp, DIR_A, SUBDIR));
  await fsp.writeFile(join(mp, DIR_A, FILE), 'file body');
  await fsp.writeFile(join(mp, DIR_A, LONG), 'long body');
  await fsp.writeFile(join(mp, DIR_A, 'to-move'), 'moved body');
  await fsp.symlink(TARGET, join(mp, DIR_A, LINK));
  await ok('setfattr', ['-n', XNAME, '-v', XVALUE, join(mp, DIR_A, FILE)]);
  await ok('setfattr', ['-n', XNAME, '-v', XVALUE, join(mp, DIR_B)]);
  // Rename across directories: the name is re-sealed for the new parent.
  await fsp.rename(join(mp, DIR_A, 'to-move'), join(mp, DIR_B, MOVED));
}

/** The tree reads back by name (after a remount: nothing from the writer's caches). */
async function checkTree(mp: string): Promise<void> {
  expect((await fsp.readdir(join(mp, DIR_A))).sort()).toEqual([FILE, LONG, LINK, SUBDIR].sort());
  expect(await fsp.readdir(join(mp, DIR_B))).toEqual([MOVED]);
  expect(await fsp.readFile(join(mp, DIR_A, FILE), 'utf8')).toBe('file body');
  expect(await fsp.readFile(join(mp, DIR_A, LONG), 'utf8')).toBe('long body');
  expect(await fsp.readFile(join(mp, DIR_B, MOVED), 'utf8')).toBe('moved body');
  expect(await fsp.readlink(join(mp, DIR_A, LINK))).toBe(TARGET);
  expect((await fsp.lstat(join(mp, DIR_A, LINK))).size).toBe(Buffer.byteLength(TARGET));
  expect((await ok('getfattr', ['--only-values', '-n', XNAME, join(mp, DIR_A, FILE)]))).toBe(XVALUE);
  expect(await ok('getfattr', ['-d', '--absolute-names', join(mp, DIR_B)])).toContain(`${XNAME}="${XVALUE}"`);
  // 256 bytes is refused before anything is sealed.
  await expect(fsp.writeFile(join(mp, DIR_A, LONG + 'x'), '')).rejects.toMatchObject({ code: 'ENAMETOOLONG' });
}

/** Needles found in the files of a folder (meta.db, meta.db-wal, meta.db-shm, blocks). */
async function leaks(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const n of NEEDLES) if ((await filesContaining(dir, [n])).length > 0) out.push(n.toString());
  return out;
}

describe('E2E names through a real --local mount (sqlite meta.db)', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  const mounts: StartedMount[] = [];
  let secretFile: string;
  let home: string;

  beforeAll(async () => {
    await buildMountClient();
    dir = await workDir('flexfs-e2enames-');
    home = join(dir.path, 'home');
    secretFile = join(dir.path, 'secret');
    await fsp.writeFile(secretFile, PASSPHRASE + '\n', { mode: 0o600 });
  }, 300_000);
  afterAll(async () => {
    for (const m of mounts) await m.stop();
    await dir?.cleanup();
  });

  const mount = async (local: string, name: string) => {
    const m = await mountLocal(join(dir.path, name), { local, home, volume: 'names-vol', args: ['--secretFile', secretFile] });
    mounts.push(m);
    return m;
  };

  it('a new E2E volume: meta.db and its WAL hold no name, target or xattr written through the mount', async () => {
    const local = join(dir.path, 'new');
    let m = await mount(local, 'mnt-new');
    await writeTree(m.mountpoint);
    await checkTree(m.mountpoint);
    // While mounted the latest changes sit in meta.db-wal.
    const files = await fsp.readdir(local);
    expect(files).toContain('meta.db');
    expect(await leaks(local)).toEqual([]);
    await m.stop();
    expect(await leaks(local)).toEqual([]);
    const settings = await fsp.readFile(join(local, 'meta.db'));
    expect(settings.includes(Buffer.from('"nameEncryption":1'))).toBe(true);
    m = await mount(local, 'mnt-new2');
    await checkTree(m.mountpoint);
    await m.stop();

    // What a hostile or broken server could do: move the sealed entry in DIR_B into DIR_A as is.
    // It does not open there: listing DIR_A is EIO (logged by the mount), never a garbage name.
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(local, 'meta.db'));
    try {
      const row = db.prepare('SELECT settings FROM volumes').get() as { settings: string };
      const names = await createNameCipher(await unlockDataKey(JSON.parse(row.settings).encryption, PASSPHRASE));
      const inoOf = (name: string) => (db.prepare('SELECT ino FROM entries WHERE parent = 1 AND name = ?').get(names.sealName(1, name)) as { ino: number }).ino;
      const moved = db.prepare('UPDATE entries SET parent = ? WHERE parent = ?').run(inoOf(DIR_A), inoOf(DIR_B));
      expect(moved.changes).toBe(1);
    } finally {
      db.close();
    }
    m = await mount(local, 'mnt-new3');
    await expect(fsp.readdir(join(m.mountpoint, DIR_A))).rejects.toMatchObject({ code: 'EIO' });
    expect(await fsp.readdir(join(m.mountpoint, DIR_B))).toEqual([]);
    expect(m.output()).toMatch(/readdir(plus)? .*an entry name in directory \d+ does not decrypt/);
    await m.stop();
  });

  it('an older E2E volume (created without the flag) still mounts and reads, names stay plaintext', async () => {
    const local = join(dir.path, 'old');
    await fsp.mkdir(join(local, 'blocks'), { recursive: true });
    // The volume as an older meta.flexfs / mount.flexfs created it: E2E, no nameEncryption flag.
    const { openEngine } = await import('../../src/meta/engines/index.js');
    const engine = await openEngine({ engine: 'sqlite', dbFolder: local });
    const settings = await engine.createVolume({
      name: 'names-vol', blockStore: { url: `file://${join(local, 'blocks')}` }, encryption: (await createEncryption(PASSPHRASE)).params,
    });
    await engine.close();
    delete settings.nameEncryption;
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(local, 'meta.db'));
    db.prepare('UPDATE volumes SET settings = ? WHERE id = ?').run(JSON.stringify(settings), settings.id);
    db.close();

    let m = await mount(local, 'mnt-old');
    await writeTree(m.mountpoint);
    await m.stop();
    // Old format kept: its names are plaintext in meta.db (this is also the scan's control).
    expect(await leaks(local)).toEqual(expect.arrayContaining([DIR_A, LINK, 'quokka', 'axolotl']));
    m = await mount(local, 'mnt-old2');
    await checkTree(m.mountpoint);
    await m.stop();
  });
});

describe('E2E names through meta.flexfs on the redis engine', () => {
  let redis: RedisServer;
  let env: DaemonEnv;
  let dir: { path: string; cleanup: () => Promise<void> };
  const mounts: StartedMount[] = [];

  beforeAll(async () => {
    await buildMountClient();
    redis = await startRedis();
    env = await startDaemonEnv(['--engine', redis.url]);
    dir = await workDir('flexfs-e2enames-redis-');
  }, 300_000);
  afterAll(async () => {
    for (const m of mounts) await m.stop();
    await env?.daemon.stop();
    await env?.cleanup();
    await redis?.stop();
    await dir?.cleanup();
  });

  /** Every key name and every value in the Redis database, read by type. */
  async function redisBytes(): Promise<Buffer[]> {
    const r = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await r.connect();
    const out: Buffer[] = [];
    try {
      let cursor = '0';
      do {
        const [next, keys] = await r.scanBuffer(cursor, 'COUNT', '500');
        cursor = String(next);
        for (const key of keys) {
          out.push(key);
          const type = await r.type(key);
          if (type === 'string') out.push((await r.getBuffer(key))!);
          else if (type === 'hash') out.push(...(await r.hkeysBuffer(key)), ...(await r.hvalsBuffer(key)));
          else if (type === 'set') out.push(...(await r.smembersBuffer(key)));
          else if (type === 'zset') out.push(...(await r.zrangeBuffer(key, '0', '-1')));
          else if (type === 'list') out.push(...(await r.lrangeBuffer(key, 0, -1)));
          else throw new Error(`key of type ${type}: teach this scan to read it`);
        }
      } while (cursor !== '0');
    } finally {
      r.disconnect();
    }
    return out;
  }

  it('a new E2E volume: no Redis key or value holds a name, target or xattr written through the mount', async () => {
    const cli = (args: string[], stdin = '') => runCli([...args, '--addr', `127.0.0.1:${env.daemon.port}`], { FLEXFS_HOME: env.home }, stdin);
    const created = await cli(['volume', 'create', 'rnames', '--store', `file://${join(dir.path, 'blocks')}`, '--encrypt'], `${PASSPHRASE}\n${PASSPHRASE}\n`);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/names:\s+encrypted/);
    const token = await cli(['token', 'create', '--volume', 'rnames', '--label', 'names test']);
    expect(token.code, token.stderr).toBe(0);
    await writeCreds(join(env.home, 'mount', 'creds', 'rnames'), {
      metaAddr: `127.0.0.1:${env.daemon.port}`, token: token.stdout.trim(), metaCA: env.certPath, secret: PASSPHRASE,
    });
    const mount = async (name: string) => {
      const mp = join(dir.path, name);
      await fsp.mkdir(mp, { recursive: true });
      const m = await startMount({
        args: [MOUNT_ENTRY, 'start', 'rnames', mp, '--foreground'], mountpoint: mp,
        env: { FLEXFS_HOME: env.home, NOTIFY_SOCKET: '', FLEXFS_TEST_FAULTS: '' }, timeoutMs: 60_000,
      });
      mounts.push(m);
      return m;
    };
    let m = await mount('a');
    await writeTree(m.mountpoint);
    await checkTree(m.mountpoint);
    const all = Buffer.concat(await redisBytes());
    expect(all.length).toBeGreaterThan(1000);
    expect(NEEDLES.filter((n) => all.includes(n)).map(String)).toEqual([]);
    // The scan's control: the volume's own settings are in there in plain JSON.
    expect(all.includes(Buffer.from('"nameEncryption":1'))).toBe(true);
    await m.stop();
    m = await mount('b');
    await checkTree(m.mountpoint);
    await m.stop();
  });
});
