import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFsError } from '../../src/errors/index.js';
import { connectMeta, type MetaSession } from '../../src/meta/client/index.js';
import { CloseCode, PROTOCOL_VERSION, packFrame } from '../../src/meta/protocol/index.js';
import { ROOT_INO, type Changes, type MetaStore } from '../../src/meta/types.js';
import { waitFor } from '../harness/ports.js';
import { runCli } from './harness.js';
import { startDaemonEnv, type DaemonEnv } from './daemon-setup.js';
import { rawSocket } from './raw-socket.js';
import { openRedisEngine, type RedisEngine } from '../../src/meta/engines/redis.js';
import { startMetaServer, type MetaServer } from '../../src/meta/server/index.js';
import { startRedis, type RedisServer } from '../harness/redis.js';

// Scoped tokens (docs/SEMANTICS.md "Scoped tokens"), enforced by a real meta.flexfs daemon:
// every request below comes from a real client (or a raw socket) that could send anything.
const ROOT = { uid: 0, gid: 0 };
const USER = { uid: 1000, gid: 1000 };

async function errno(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (e) { return isFsError(e) ? e.code : `non-FsError: ${String(e)}`; }
  return 'no error';
}

describe('scoped tokens: read-only, subdir, expiry and squash, enforced by the server', () => {
  let env: DaemonEnv;
  let full: MetaSession;
  const sessions: MetaSession[] = [];
  // the tree, made with an unscoped token: /a/{b/file, inner/, hl}, /outside/{secret, linked}
  const ino: Record<string, number> = {};

  const connect = async (secret: string, watch = false) => {
    const s = await connectMeta({ addr: `127.0.0.1:${env.daemon.port}`, token: secret, tls: { ca: env.certPath }, watch });
    sessions.push(s);
    return s;
  };
  const token = (spec: Record<string, unknown>) => env.admin.createToken({ volume: 'sv1', ...spec });

  beforeAll(async () => {
    env = await startDaemonEnv();
    await env.admin.createVolume({ name: 'sv1', blockStore: { url: 's3://bucket/sv1' } });
    full = await connect((await token({})).secret);
    const m = full.store;
    ino.a = (await m.mkdir(ROOT_INO, 'a', 0o755, ROOT)).ino;
    ino.b = (await m.mkdir(ino.a, 'b', 0o755, ROOT)).ino;
    ino.file = (await m.create(ino.b, 'file', 0o644, ROOT)).ino;
    ino.inner = (await m.mkdir(ino.a, 'inner', 0o755, ROOT)).ino;
    ino.outside = (await m.mkdir(ROOT_INO, 'outside', 0o755, ROOT)).ino;
    ino.secret = (await m.create(ino.outside, 'secret', 0o600, ROOT)).ino;
    ino.linked = (await m.create(ino.outside, 'linked', 0o644, ROOT)).ino;
    await m.link(ino.linked, ino.a, 'hl', ROOT); // one name inside, one outside
  });
  afterAll(async () => {
    for (const s of sessions) await s.close().catch(() => undefined);
    await env?.daemon.stop();
    await env?.cleanup();
  });

  it('a subdir token sees the subtree as the volume: inode 1 is the subdir, ".." of it stays, entries and attrs in its numbering', async () => {
    const t = await token({ subdir: '/a' });
    expect((await env.admin.listTokens()).find((x) => x.id === t.id)).toMatchObject({ subdir: '/a', subdirIno: ino.a });
    const m = (await connect(t.secret)).store;
    const root = await m.getattr(ROOT_INO, USER);
    expect(root).toMatchObject({ ino: ROOT_INO, type: 'dir' });
    expect((await m.readdir(ROOT_INO, USER)).entries.map((e) => e.name)).toEqual(['b', 'hl', 'inner']);
    expect((await m.lookup(ROOT_INO, '..', USER)).ino).toBe(ROOT_INO);
    expect((await m.lookup(ROOT_INO, '.', USER)).ino).toBe(ROOT_INO);
    expect((await m.lookup(ino.b, '..', USER)).ino).toBe(ROOT_INO);
    expect((await m.lookup(ino.b, 'file', USER)).ino).toBe(ino.file);
    expect((await m.getattr(ino.file, USER)).ino).toBe(ino.file);
    // the subdir's real number is the root too, answered as 1
    expect((await m.getattr(ino.a, USER)).ino).toBe(ROOT_INO);
    // a hard link with one name inside is inside
    expect((await m.getattr(ino.linked, USER)).ino).toBe(ino.linked);
    // what it makes lands in /a
    const made = await m.create(ROOT_INO, 'new', 0o644, USER);
    expect((await full.store.lookup(ino.a, 'new', ROOT)).ino).toBe(made.ino);
    const dir = await m.mkdir(ROOT_INO, 'd', 0o755, USER);
    expect((await m.lookup(dir.ino, '..', USER)).ino).toBe(ROOT_INO);
  });

  it('guessed inode numbers outside the subtree get ENOENT, whatever the operation', async () => {
    const m = (await connect((await token({ subdir: '/a' })).secret)).store;
    const out = [ino.outside, ino.secret];
    for (const i of out) {
      expect(await errno(m.getattr(i, USER))).toBe('ENOENT');
      expect(await errno(m.setattr(i, { mode: 0o777 }, USER))).toBe('ENOENT');
      expect(await errno(m.open(i, USER))).toBe('ENOENT');
      expect(await errno(m.getxattr(i, 'user.x', USER))).toBe('ENOENT');
      expect(await errno(m.setxattr(i, 'user.x', Buffer.from('v'), 0, USER))).toBe('ENOENT');
      expect(await errno(m.listxattr(i, USER))).toBe('ENOENT');
      expect(await errno(m.blocks(i, 0, 10, USER))).toBe('ENOENT');
      expect(await errno(m.commit({ ino: i, writes: [], size: 0, mtime: 1n }, USER))).toBe('ENOENT');
      expect(await errno(m.flock(i, 'o1', 1, USER))).toBe('ENOENT');
    }
    expect(await errno(m.readdir(ino.outside, USER))).toBe('ENOENT');
    expect(await errno(m.lookup(ino.outside, 'secret', USER))).toBe('ENOENT');
    expect(await errno(m.create(ino.outside, 'planted', 0o644, USER))).toBe('ENOENT');
    expect(await errno(m.unlink(ino.outside, 'secret', USER))).toBe('ENOENT');
    expect(await errno(m.mkdir(ino.outside, 'x', 0o755, USER))).toBe('ENOENT');
    // nothing changed out there
    expect((await full.store.readdir(ino.outside, ROOT)).entries.map((e) => e.name)).toEqual(['linked', 'secret']);
    expect((await full.store.getattr(ino.secret, ROOT)).mode & 0o777).toBe(0o600);
  });

  it('statfs of a subdir session answers for its subtree: the subdir\'s quota at its root, nothing outside', async () => {
    await env.admin.setQuota('sv1', '/a', { inodes: 500 });
    await env.admin.setQuota('sv1', '/outside', { inodes: 700 });
    try {
      const m = (await connect((await token({ subdir: '/a' })).secret)).store;
      expect((await m.statfs(USER, ROOT_INO)).inodeLimit).toBe(500);
      expect((await m.statfs(USER)).inodeLimit, 'no inode given: the session\'s root').toBe(500);
      expect((await m.statfs(USER, ino.b)).inodeLimit).toBe(500);
      expect(await errno(m.statfs(USER, ino.outside))).toBe('ENOENT');
      // an unscoped session still sees each directory's own quota, and the volume at the root
      expect((await full.store.statfs(ROOT, ino.outside)).inodeLimit).toBe(700);
      expect((await full.store.statfs(ROOT, ROOT_INO)).inodeLimit).toBe(0);
    } finally {
      await env.admin.deleteQuota('sv1', '/a');
      await env.admin.deleteQuota('sv1', '/outside');
    }
  });

  it('rename or link out of (or into from outside) the subtree is EXDEV; inside it works', async () => {
    const m = (await connect((await token({ subdir: '/a' })).secret)).store;
    expect(await errno(m.rename(ino.b, 'file', ino.outside, 'file', USER))).toBe('EXDEV');
    expect(await errno(m.rename(ROOT_INO, 'b', ino.outside, 'b', USER))).toBe('EXDEV');
    expect(await errno(m.rename(ino.outside, 'secret', ROOT_INO, 'stolen', USER))).toBe('EXDEV');
    expect(await errno(m.rename(ROOT_INO, 'b', ino.outside, 'secret', USER, { exchange: true }))).toBe('EXDEV');
    expect(await errno(m.link(ino.secret, ROOT_INO, 'stolen', USER))).toBe('EXDEV');
    expect(await errno(m.link(ino.file, ino.outside, 'leak', USER))).toBe('EXDEV');
    // ".." names the root itself: renaming "up" stays inside (and the core refuses a dir into itself)
    const up = await m.lookup(ino.b, '..', USER);
    expect(up.ino).toBe(ROOT_INO);
    expect((await full.store.lookup(ino.b, 'file', ROOT)).ino).toBe(ino.file);
    // inside, both work
    await m.rename(ino.b, 'file', ino.inner, 'moved', USER);
    expect((await full.store.lookup(ino.inner, 'moved', ROOT)).ino).toBe(ino.file);
    await m.link(ino.file, ROOT_INO, 'second', USER);
    expect((await full.store.getattr(ino.file, ROOT)).nlink).toBe(2);
    await m.rename(ino.inner, 'moved', ino.b, 'file', USER);
    await m.unlink(ROOT_INO, 'second', USER);
  });

  it('the raw protocol gets the same answers: a guessed inode, ".." of the root', async () => {
    const t = await token({ subdir: '/a' });
    const s = await rawSocket(env.daemon.addr);
    s.ws.send(packFrame({ t: 'hello', v: PROTOCOL_VERSION, token: t.secret, host: 'raw', pid: 1 }));
    expect(await s.next()).toMatchObject({ t: 'welcome', subdir: '/a' });
    s.ws.send(packFrame({ id: 1, op: 'getattr', args: [ino.secret, USER] }));
    expect(await s.next()).toMatchObject({ id: 1, err: { code: 'ENOENT' } });
    s.ws.send(packFrame({ id: 2, op: 'lookup', args: [ROOT_INO, '..', USER] }));
    expect(await s.next()).toMatchObject({ id: 2, ok: { ino: ROOT_INO, type: 'dir' } });
    s.ws.send(packFrame({ id: 3, op: 'lookup', args: [ino.outside, 'secret', USER] }));
    expect(await s.next()).toMatchObject({ id: 3, err: { code: 'ENOENT' } });
    s.ws.send(packFrame({ id: 4, op: 'rename', args: [ino.outside, 'secret', ROOT_INO, 'x', USER] }));
    expect(await s.next()).toMatchObject({ id: 4, err: { code: 'EXDEV' } });
    s.ws.close();
  });

  it('a subdir session hears other sessions\' changes in its own numbering, and no name from outside', async () => {
    const w = await connect((await token({ subdir: '/a' })).secret, true);
    const heard: Changes[] = [];
    w.store.watch!((c) => { if (c) heard.push(c); });
    // first a name outside (it must never reach this session), then one inside
    await full.store.create(ino.outside, 'leaked-name', 0o644, ROOT);
    await full.store.create(ino.b, 'deeper', 0o644, ROOT);
    await full.store.create(ino.a, 'pushed', 0o644, ROOT);
    await waitFor(() => heard.some((c) => c.e.some(([p, n]) => p === ROOT_INO && n === 'pushed')), 20_000, 'the change pushed as (1, "pushed")');
    expect(heard.flatMap((c) => c.a)).not.toContain(ino.a);
    expect(heard.some((c) => c.e.some(([p, n]) => p === ino.b && n === 'deeper'))).toBe(true);
    expect(JSON.stringify(heard)).not.toContain('leaked-name');
    await full.store.unlink(ino.outside, 'leaked-name', ROOT);
    await full.store.unlink(ino.b, 'deeper', ROOT);
  });

  it('a read-only token gets EROFS for every kind of change; reading, opening and locks work', async () => {
    const session = await connect((await token({ readOnly: true })).secret);
    const m: MetaStore = session.store;
    expect(session.readOnly).toBe(true);
    const changes: Array<[string, Promise<unknown>]> = [
      ['setattr', m.setattr(ino.file, { mode: 0o600 }, USER)],
      ['setattr atime', m.setattr(ino.file, { atime: 'now', keepCtime: true }, USER)],
      ['mknod', m.mknod(ino.b, 'fifo', 0o10644, 0, USER)],
      ['create', m.create(ino.b, 'c', 0o644, USER)],
      ['mkdir', m.mkdir(ino.b, 'd', 0o755, USER)],
      ['symlink', m.symlink(ino.b, 's', '/x', USER)],
      ['link', m.link(ino.file, ino.b, 'l', USER)],
      ['unlink', m.unlink(ino.b, 'file', USER)],
      ['rmdir', m.rmdir(ino.a, 'inner', USER)],
      ['rename', m.rename(ino.b, 'file', ino.b, 'f2', USER)],
      ['setxattr', m.setxattr(ino.file, 'user.x', Buffer.from('v'), 0, USER)],
      ['removexattr', m.removexattr(ino.file, 'user.x', USER)],
      ['commit', m.commit({ ino: ino.file, writes: [], size: 5, mtime: 1n }, USER)],
      ['allocIds', m.allocIds(4, USER)],
    ];
    for (const [what, p] of changes) expect(`${what}: ${await errno(p)}`).toBe(`${what}: EROFS`);
    expect((await m.lookup(ino.b, 'file', USER)).ino).toBe(ino.file);
    expect((await m.readdir(ino.a, USER)).entries.length).toBeGreaterThan(0);
    await m.open(ino.file, USER);
    await m.flock(ino.file, 'reader', 1, USER);
    await m.releaseLocks(ino.file, 'reader', 'flock', USER);
    await m.release(ino.file, USER);
    expect((await full.store.readdir(ino.b, ROOT)).entries.map((e) => e.name)).toEqual(['file']);
  });

  it('squash by token: rootSquash maps uid 0 only, allSquash everyone; a squashed caller cannot chown away', async () => {
    const rs = (await connect((await token({ rootSquash: { uid: 65534, gid: 65533 } })).secret)).store;
    expect(await rs.create(ino.b, 'by-root', 0o644, { uid: 0, gid: 0, groups: [0] })).toMatchObject({ uid: 65534, gid: 65533 });
    expect(await rs.create(ino.b, 'by-user', 0o644, USER)).toMatchObject({ uid: 1000, gid: 1000 });
    const as = (await connect((await token({ allSquash: { uid: 2000, gid: 2001 } })).secret)).store;
    expect(await as.mkdir(ino.b, 'all-root', 0o755, ROOT)).toMatchObject({ uid: 2000, gid: 2001 });
    const f = await as.create(ino.b, 'all-user', 0o644, USER);
    expect(f).toMatchObject({ uid: 2000, gid: 2001 });
    expect(await errno(as.setattr(f.ino, { uid: 0 }, ROOT))).toBe('EPERM');
    expect(await errno(as.setattr(f.ino, { gid: 0 }, ROOT))).toBe('EPERM');
    expect(await as.setattr(f.ino, { mode: 0o600 }, ROOT)).toMatchObject({ uid: 2000 });
    // the squash shows in token list
    const r = await runCli(['token', 'list', '--addr', `127.0.0.1:${env.daemon.port}`], { FLEXFS_HOME: env.home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('allSquash=2000:2001');
    expect(r.stdout).toContain('rootSquash=65534:65533');
  });

  it('an expired token is refused at connect with "token expired"; a session open when it expires is closed', async () => {
    const soon = Date.now() + 4000;
    const t = await token({ expiresAt: soon });
    const raw = await rawSocket(env.daemon.addr);
    raw.ws.send(packFrame({ t: 'hello', v: PROTOCOL_VERSION, token: t.secret, host: 'raw', pid: 1 }));
    expect(await raw.next()).toMatchObject({ t: 'welcome' });
    raw.ws.send(packFrame({ id: 1, op: 'getattr', args: [ROOT_INO, USER] }));
    expect(await raw.next()).toMatchObject({ id: 1, ok: { ino: ROOT_INO } });
    // the server closes it at expiry, never a reply after
    const closed = await raw.closed;
    expect(closed).toEqual({ code: CloseCode.auth, reason: 'token expired' });
    expect(Date.now()).toBeGreaterThanOrEqual(soon);
    const err = await connect(t.secret).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/token expired at \d{4}-\d\d-\d\dT/);
    // the token is still listed, with its expiry
    expect((await env.admin.listTokens()).find((x) => x.id === t.id)).toMatchObject({ expiresAt: soon, revoked: false });
  });

  it('token create: bad scope values are usage errors naming the flag; a subdir that is not a directory is refused', async () => {
    const cli = (args: string[]) => runCli(['token', 'create', '--addr', `127.0.0.1:${env.daemon.port}`, ...args], { FLEXFS_HOME: env.home });
    for (const [args, flag] of [
      [['--volume', 'sv1', '--rootSquash', 'nobody'], '--rootSquash'],
      [['--volume', 'sv1', '--allSquash', '1:'], '--allSquash'],
      [['--volume', 'sv1', '--expires', 'soon'], '--expires'],
      [['--volume', 'sv1', '--expires', '2001-01-01T00:00:00Z'], '--expires'],
      [['--volume', 'sv1', '--subdir', 'a'], '--subdir'],
      [['--volume', 'sv1', '--rootSquash', '1:1', '--allSquash', '2:2'], '--allSquash'],
      [['--admin', '--readOnly'], '--readOnly'],
    ] as const) {
      const r = await cli([...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(flag);
    }
    const missing = await cli(['--volume', 'sv1', '--subdir', '/a/nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/\/a\/nope: no such directory/);
    const notDir = await cli(['--volume', 'sv1', '--subdir', '/a/b/file']);
    expect(notDir.code).toBe(1);
    expect(notDir.stderr).toMatch(/\/a\/b\/file: not a directory/);
    const ok = await cli(['--volume', 'sv1', '--subdir', '/a/b', '--readOnly', '--expires', '30d', '--allSquash', '7:8']);
    expect(ok.code, ok.stderr).toBe(0);
    const listed = (await env.admin.listTokens()).at(-1)!;
    expect(listed).toMatchObject({ subdir: '/a/b', subdirIno: ino.b, readOnly: true, allSquash: { uid: 7, gid: 8 } });
    expect(listed.expiresAt! - Date.now()).toBeGreaterThan(29 * 86400_000);
  });
});

describe('scoped tokens on the redis engine (meta.flexfs in process over a real redis-server)', () => {
  let redis: RedisServer;
  let engine: RedisEngine;
  let server: MetaServer;
  const sessions: MetaSession[] = [];
  const connect = async (secret: string) => {
    const s = await connectMeta({ addr: server.url, token: secret });
    sessions.push(s);
    return s;
  };

  beforeAll(async () => {
    redis = await startRedis();
    engine = await openRedisEngine({ url: redis.url });
    server = await startMetaServer({ engine, bindAddr: '127.0.0.1:0', tls: null, sessionTtlSeconds: 30 });
    await engine.createVolume({ name: 'rv', blockStore: { url: 'file:///tmp/unused-blocks', credentials: 'static' } });
  });
  afterAll(async () => {
    for (const s of sessions) await s.close().catch(() => undefined);
    await server?.close();
    await engine?.close();
    await redis?.stop();
  });

  it('subdir, read-only and squash hold the same way', async () => {
    const volumeId = (await engine.getVolume('rv'))!.id;
    const full = (await connect((await engine.createToken({ volume: volumeId })).secret)).store;
    const a = await full.mkdir(ROOT_INO, 'a', 0o755, ROOT);
    const inner = await full.mkdir(a.ino, 'inner', 0o755, ROOT);
    const out = await full.mkdir(ROOT_INO, 'out', 0o755, ROOT);
    const secret = await full.create(out.ino, 'secret', 0o600, ROOT);
    const m = (await connect((await engine.createToken({ volume: volumeId, subdir: '/a', subdirIno: a.ino, allSquash: { uid: 7, gid: 8 } })).secret)).store;
    expect((await m.lookup(ROOT_INO, '..', USER)).ino).toBe(ROOT_INO);
    expect((await m.lookup(inner.ino, '..', USER)).ino).toBe(ROOT_INO);
    expect((await m.readdir(ROOT_INO, USER)).entries.map((e) => e.name)).toEqual(['inner']);
    expect(await errno(m.getattr(secret.ino, USER))).toBe('ENOENT');
    expect(await errno(m.rename(out.ino, 'secret', ROOT_INO, 's', USER))).toBe('EXDEV');
    expect(await errno(m.link(secret.ino, inner.ino, 's', USER))).toBe('EXDEV');
    const f = await m.create(inner.ino, 'f', 0o644, ROOT);
    expect(f).toMatchObject({ uid: 7, gid: 8 });
    expect((await m.getattr(f.ino, USER)).ino).toBe(f.ino);
    const ro = (await connect((await engine.createToken({ volume: volumeId, readOnly: true })).secret)).store;
    expect(await errno(ro.mkdir(ROOT_INO, 'x', 0o755, USER))).toBe('EROFS');
    expect(await errno(ro.unlink(out.ino, 'secret', USER))).toBe('EROFS');
  });
});
