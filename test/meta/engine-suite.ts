import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFsError } from '../../src/errors/index.js';
import type { MetaEngine } from '../../src/meta/engine.js';
import { LINK_MAX } from '../../src/meta/core/rules.js';
import { ROOT_INO, type OpContext } from '../../src/meta/types.js';
import { openVolumeAt } from '../../src/meta/history/open-at.js';

/** MetaEngine behaviour beyond one volume's namespace: volumes, tokens, sessions, gc, fsck. */
export interface EngineSetup {
  engine: MetaEngine;
  /** Break the namespace behind the engine's back (drop inode `ino`'s record) for the fsck test. */
  dropInodeRecord(volumeId: string, ino: number): Promise<void>;
  /** Set inode `ino`'s link count behind the engine's back (reaching LINK_MAX by linking takes too long). */
  setNlink(volumeId: string, ino: number, nlink: number): Promise<void>;
  cleanup(): Promise<void>;
}

const USER: OpContext = { uid: 1000, gid: 1000 };
const store = { url: 'file:///tmp/flexfs-unused' };

async function errno(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (e) { return isFsError(e) ? e.code : `non-FsError: ${String(e)}`; }
  return 'no error';
}

export function runEngineSuite(label: string, setup: () => Promise<EngineSetup>): void {
  describe(`MetaEngine: ${label}`, () => {
    let s: EngineSetup;
    let e: MetaEngine;
    beforeAll(async () => { s = await setup(); e = s.engine; });
    afterAll(async () => { await s?.cleanup(); });

    it('creates volumes with validated specs and defaults', async () => {
      const v = await e.createVolume({ name: 'vol-a', blockStore: store });
      expect(v).toMatchObject({ name: 'vol-a', blockSize: 4 * 1024 * 1024, compression: 'lz4', retentionSeconds: 86400, blockStore: store });
      expect(v.id).toMatch(/^[0-9a-f]{16}$/);
      expect(await e.getVolume('vol-a')).toEqual(v);
      expect(await e.getVolume(v.id)).toEqual(v);
      expect(await e.getVolume('nope')).toBeNull();
      expect(await errno(e.createVolume({ name: 'vol-a', blockStore: store }))).toBe('EEXIST');
      for (const bad of [{ name: '../x' }, { name: '' }, { name: 'ok', blockSize: 3 * 1024 * 1024 }, { name: 'ok', blockSize: 128 * 1024 },
        { name: 'ok', blockSize: 16 * 1024 * 1024 }, { name: 'ok', compression: 'zip' }]) {
        expect(await errno(e.createVolume({ blockStore: store, ...bad } as never))).toBe('EINVAL');
      }
      expect(await errno(e.createVolume({ name: 'ok', blockStore: { url: 'ftp://x' } }))).toBe('EINVAL');
      const b = await e.createVolume({ name: 'vol-b', blockSize: 256 * 1024, compression: 'none', retentionSeconds: 0, blockStore: { url: 's3://bucket/prefix', endpoint: 'http://127.0.0.1:1' } });
      expect([b.blockSize, b.compression, b.retentionSeconds]).toEqual([256 * 1024, 'none', 0]);
      expect((await e.listVolumes()).map((x) => x.name)).toEqual(['vol-a', 'vol-b']);
      expect((await e.volume(b.id).settings()).blockSize).toBe(256 * 1024);
      // volumes are separate namespaces
      await e.volume(v.id).create(ROOT_INO, 'only-in-a', 0o644, USER);
      expect(await errno(e.volume(b.id).lookup(ROOT_INO, 'only-in-a', USER))).toBe('ENOENT');
    });

    it('deletes volumes: ENOTEMPTY unless forced', async () => {
      const v = await e.createVolume({ name: 'doomed', blockStore: store });
      const m = e.volume(v.id);
      await m.create(ROOT_INO, 'f', 0o644, USER);
      expect(await errno(e.deleteVolume('doomed'))).toBe('ENOTEMPTY');
      await e.deleteVolume('doomed', true);
      expect(await e.getVolume(v.id)).toBeNull();
      expect(await errno(e.volume(v.id).getattr(ROOT_INO, USER))).toBe('ENOENT');
      expect(await errno(e.deleteVolume('doomed'))).toBe('ENOENT');
      const empty = await e.createVolume({ name: 'empty', blockStore: store });
      await e.deleteVolume(empty.id);
      expect((await e.listVolumes()).map((x) => x.name)).not.toContain('empty');
    });

    it('tokens: secret returned once, stored hashed, revocable', async () => {
      const t = await e.createToken({ volume: 'vol-a', label: 'laptop' });
      expect(t.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const vol = await e.getVolume('vol-a');
      const info = await e.checkToken(t.secret);
      expect(info).toMatchObject({ id: t.id, volumeId: vol!.id, admin: false, label: 'laptop', revoked: false });
      const admin = await e.createToken({ admin: true });
      expect((await e.checkToken(admin.secret))?.admin).toBe(true);
      const listed = await e.listTokens();
      expect(listed.map((x) => x.id)).toEqual(expect.arrayContaining([t.id, admin.id]));
      expect(JSON.stringify(listed)).not.toContain(t.secret);
      expect(await e.checkToken(t.secret.slice(0, -1) + (t.secret.endsWith('A') ? 'B' : 'A'))).toBeNull();
      expect(await e.checkToken('')).toBeNull();
      await e.revokeToken(t.id);
      expect(await e.checkToken(t.secret)).toBeNull();
      expect((await e.listTokens()).find((x) => x.id === t.id)?.revoked).toBe(true);
      expect(await errno(e.revokeToken('nope'))).toBe('ENOENT');
      expect(await errno(e.createToken({ volume: 'no-such-volume' }))).toBe('ENOENT');
      expect(await errno(e.createToken({}))).toBe('EINVAL');
    });

    it('tokens keep their scope (read-only, subdir, expiry, squash); an expired token is refused', async () => {
      const vol = (await e.getVolume('vol-a'))!;
      const dir = await e.volume(vol.id).mkdir(ROOT_INO, 'scoped-dir', 0o755, USER);
      const scope = { readOnly: true, subdir: '/scoped-dir', subdirIno: dir.ino, expiresAt: Date.now() + 3_600_000, rootSquash: { uid: 65534, gid: 65534 } };
      const t = await e.createToken({ volume: 'vol-a', ...scope });
      expect(await e.checkToken(t.secret)).toMatchObject({ id: t.id, volumeId: vol.id, ...scope });
      expect((await e.listTokens()).find((x) => x.id === t.id)).toMatchObject(scope);
      const all = await e.createToken({ volume: 'vol-a', allSquash: { uid: 1000, gid: 100 } });
      expect(await e.checkToken(all.secret)).toMatchObject({ allSquash: { uid: 1000, gid: 100 } });
      expect((await e.checkToken(all.secret))?.readOnly).toBeUndefined();
      // expired: refused, but still there for the server to say why
      const old = await e.createToken({ volume: 'vol-a', expiresAt: Date.now() - 1000 });
      expect(await e.checkToken(old.secret)).toBeNull();
      expect(await e.checkToken(old.secret, { includeExpired: true })).toMatchObject({ id: old.id });
      // bad scopes are refused by name
      for (const bad of [{ rootSquash: { uid: -1, gid: 0 } }, { rootSquash: { uid: 1, gid: 1 }, allSquash: { uid: 1, gid: 1 } },
        { subdir: 'rel', subdirIno: dir.ino }, { expiresAt: -5 }, { admin: true, readOnly: true }]) {
        expect(await errno(e.createToken({ volume: 'vol-a', ...bad } as never))).toBe('EINVAL');
      }
    });

    it('sessions: heartbeat, expiry releases holds and frees unlinked inodes', async () => {
      const v = (await e.getVolume('vol-a'))!;
      const m = e.volume(v.id);
      const sid = await e.openSession(v.id, { host: 'h1', pid: 42, mountpoint: '/mnt/a' }, 30);
      const ctx = { ...USER, sessionId: sid };
      expect((await e.listSessions(v.id)).map((x) => x.id)).toContain(sid);
      expect(await e.heartbeat(sid, 30)).toBe(true);
      const f = await m.create(ROOT_INO, 'held', 0o644, ctx, true);
      const id = await m.allocIds(1, ctx);
      await m.commit({ ino: f.ino, size: 10, mtime: 1n, writes: [{ index: 0, blockId: id, length: 10 }] }, ctx);
      await m.unlink(ROOT_INO, 'held', ctx);
      expect((await m.getattr(f.ino, USER)).nlink).toBe(0);
      expect(await e.expireSessions(Date.now())).toBe(0);
      expect((await m.getattr(f.ino, USER)).nlink).toBe(0);
      expect(await e.expireSessions(Date.now() + 31_000)).toBe(1);
      expect(await errno(m.getattr(f.ino, USER))).toBe('ENOENT');
      expect((await e.gcQueue(v.id, Date.now() + 1000, 1000)).map((g) => g.blockId)).toContain(id);
      expect(await e.heartbeat(sid, 30)).toBe(false);
      expect((await e.listSessions()).map((x) => x.id)).not.toContain(sid);
      // closeSession does the same at once
      const sid2 = await e.openSession(v.id, { host: 'h2', pid: 7 }, 30);
      const g = await m.create(ROOT_INO, 'held2', 0o644, { ...USER, sessionId: sid2 }, true);
      await m.unlink(ROOT_INO, 'held2', USER);
      await e.closeSession(sid2);
      expect(await errno(m.getattr(g.ino, USER))).toBe('ENOENT');
      expect(await errno(e.openSession('no-such-volume', { host: 'h', pid: 1 }, 30))).toBe('ENOENT');
      expect(await e.checkNamespace(v.id)).toEqual([]);
    });

    it('sessions: expiry and close release the fcntl and flock locks of that session only', async () => {
      const v = (await e.getVolume('vol-a'))!;
      const m = e.volume(v.id);
      const a = await e.openSession(v.id, { host: 'h1', pid: 1 }, 30);
      const b = await e.openSession(v.id, { host: 'h2', pid: 2 }, 120);
      const ctxA = { ...USER, sessionId: a };
      const ctxB = { ...USER, sessionId: b };
      const f = await m.create(ROOT_INO, `locked-${Date.now()}`, 0o644, ctxA, true);
      await m.setlk(f.ino, '7', { type: 1, start: 0, len: 0, pid: 1 }, false, ctxA);
      await m.flock(f.ino, '7', 2, ctxA);
      await m.open(f.ino, ctxB);
      // the same kernel owner number on another session is another owner
      expect(await errno(m.setlk(f.ino, '7', { type: 0, start: 5, len: 1, pid: 2 }, false, ctxB))).toBe('EAGAIN');
      expect(await errno(m.flock(f.ino, '7', 1, ctxB))).toBe('EAGAIN');
      expect(await e.expireSessions(Date.now() + 31_000)).toBeGreaterThanOrEqual(1);
      await m.setlk(f.ino, '7', { type: 1, start: 0, len: 0, pid: 2 }, false, ctxB);
      await m.flock(f.ino, '7', 2, ctxB);
      // closeSession does the same at once
      const c = await e.openSession(v.id, { host: 'h3', pid: 3 }, 120);
      const ctxC = { ...USER, sessionId: c };
      await m.open(f.ino, ctxC);
      expect(await errno(m.setlk(f.ino, '1', { type: 0, start: 0, len: 1, pid: 3 }, false, ctxC))).toBe('EAGAIN');
      await e.closeSession(b);
      await m.setlk(f.ino, '1', { type: 1, start: 0, len: 0, pid: 3 }, false, ctxC);
      await m.flock(f.ino, '1', 2, ctxC);
      await e.closeSession(c);
      expect(await m.getlk(f.ino, '9', { type: 1, start: 0, len: 0, pid: 4 }, USER)).toMatchObject({ type: 2 });
    });

    it('a retried open that arrives on a new session takes its hold there', async () => {
      const v = (await e.getVolume('vol-a'))!;
      const m = e.volume(v.id);
      const old = await e.openSession(v.id, { host: 'h1', pid: 1 }, 30);
      const f = await m.create(ROOT_INO, 'retried', 0o644, USER);
      const g = { ...USER, opId: `open-retry-${Date.now()}` };
      const c = { ...USER, opId: `create-open-retry-${Date.now()}` };
      // Applied on the old session; the client never saw the answers.
      await m.open(f.ino, { ...g, sessionId: old });
      const created = await m.create(ROOT_INO, 'retried2', 0o644, { ...c, sessionId: old }, true);
      expect(await e.expireSessions(Date.now() + 31_000)).toBeGreaterThanOrEqual(1);
      // The client reconnects on a new session and re-sends both calls with their op ids.
      const fresh = await e.openSession(v.id, { host: 'h1', pid: 1 }, 30);
      expect((await m.open(f.ino, { ...g, sessionId: fresh })).ino).toBe(f.ino);
      expect((await m.create(ROOT_INO, 'retried2', 0o644, { ...c, sessionId: fresh }, true)).ino).toBe(created.ino);
      // Re-sent again on the same session: still one hold each, not two.
      await m.open(f.ino, { ...g, sessionId: fresh });
      // Both files stay alive while the new session holds them, and go when it releases.
      await m.unlink(ROOT_INO, 'retried', USER);
      await m.unlink(ROOT_INO, 'retried2', USER);
      expect((await m.getattr(f.ino, USER)).nlink).toBe(0);
      expect((await m.getattr(created.ino, USER)).nlink).toBe(0);
      await m.release(f.ino, { ...USER, sessionId: fresh });
      await m.release(created.ino, { ...USER, sessionId: fresh });
      expect(await errno(m.getattr(f.ino, USER))).toBe('ENOENT');
      expect(await errno(m.getattr(created.ino, USER))).toBe('ENOENT');
      await e.closeSession(fresh);
      expect(await e.checkNamespace(v.id)).toEqual([]);
    });

    it('gc queue and referenced blocks', async () => {
      const v = await e.createVolume({ name: 'gc', blockSize: 256 * 1024, blockStore: store });
      const m = e.volume(v.id);
      const f = await m.create(ROOT_INO, 'f', 0o644, USER);
      const id = await m.allocIds(3, USER);
      await m.commit({ ino: f.ino, size: 300_000, mtime: 1n, writes: [{ index: 0, blockId: id, length: 262144 }, { index: 1, blockId: id + 1, length: 37856 }] }, USER);
      const t0 = Date.now();
      await m.commit({ ino: f.ino, size: 300_000, mtime: 2n, writes: [{ index: 1, blockId: id + 2, length: 37856 }] }, USER);
      const q = await e.gcQueue(v.id, Date.now() + 1000, 100);
      expect(q).toHaveLength(1);
      expect(q[0]).toMatchObject({ blockId: id + 1, ino: f.ino, index: 1 });
      expect(q[0].queuedAt).toBeGreaterThanOrEqual(t0 - 1000);
      expect(await e.gcQueue(v.id, t0 - 60_000, 100)).toEqual([]); // not old enough
      const refs = [];
      for await (const r of e.referencedBlocks(v.id)) refs.push(r);
      expect(refs.map((r) => r.blockId).sort()).toEqual([id, id + 1, id + 2].sort());
      expect(refs.find((r) => r.blockId === id)).toEqual({ ino: f.ino, index: 0, blockId: id, length: 262144 });
      await e.gcDone(v.id, q);
      expect(await e.gcQueue(v.id, Date.now() + 1000, 100)).toEqual([]);
    });

    it('limits: creating past the inode limit and growing past the capacity get ENOSPC', async () => {
      for (const bad of [{ inodeLimit: -1 }, { inodeLimit: 1.5 }, { capacityBytes: -1 }]) {
        expect(await errno(e.createVolume({ name: 'bad-limits', blockStore: store, ...bad }))).toBe('EINVAL');
      }
      const cap = 1_000_000;
      const v = await e.createVolume({ name: 'limits', blockSize: 256 * 1024, blockStore: store, inodeLimit: 4, capacityBytes: cap });
      const m = e.volume(v.id);
      expect(await m.statfs(USER)).toMatchObject({ inodeLimit: 4, capacityBytes: cap, inodes: 1, usedBytes: 0 });
      // the root counts: three more inodes fit
      const d = await m.mkdir(ROOT_INO, 'd', 0o755, USER);
      const f = await m.create(d.ino, 'f', 0o644, USER);
      await m.symlink(ROOT_INO, 'l', 'd/f', USER);
      expect(await errno(m.create(ROOT_INO, 'x', 0o644, USER))).toBe('ENOSPC');
      expect(await errno(m.create(ROOT_INO, 'x', 0o644, USER, true))).toBe('ENOSPC');
      expect(await errno(m.mkdir(d.ino, 'x', 0o755, USER))).toBe('ENOSPC');
      expect(await errno(m.mknod(d.ino, 'x', 0o010600, 0, USER))).toBe('ENOSPC');
      expect(await errno(m.symlink(d.ino, 'x', 'f', USER))).toBe('ENOSPC');
      expect(await errno(m.lookup(ROOT_INO, 'x', USER))).toBe('ENOENT');
      await m.link(f.ino, ROOT_INO, 'f2', USER); // a name, not an inode
      expect((await m.statfs(USER)).inodes).toBe(4);
      await m.unlink(ROOT_INO, 'l', USER);
      const x = await m.create(ROOT_INO, 'x', 0o644, USER); // room again
      // capacity counts file sizes, holes included
      const id = await m.allocIds(2, USER);
      await m.commit({ ino: f.ino, size: cap, mtime: 1n, writes: [{ index: 0, blockId: id, length: 1000 }] }, USER);
      expect(await errno(m.commit({ ino: f.ino, size: cap + 1, mtime: 2n, writes: [] }, USER))).toBe('ENOSPC');
      expect(await errno(m.commit({ ino: x.ino, size: 1, mtime: 2n, writes: [{ index: 0, blockId: id + 1, length: 1 }] }, USER))).toBe('ENOSPC');
      expect(await errno(m.setattr(x.ino, { size: 1 }, USER))).toBe('ENOSPC');
      expect((await m.getattr(f.ino, USER)).size).toBe(cap);
      expect((await m.getattr(x.ino, USER)).size).toBe(0);
      expect(await m.blocks(x.ino, 0, 10, USER)).toEqual([]);
      expect((await m.statfs(USER)).usedBytes).toBe(cap);
      // shrinking one file makes room for another
      await m.setattr(f.ino, { size: cap - 10 }, USER);
      expect((await m.setattr(x.ino, { size: 10 }, USER)).size).toBe(10);
      expect(await errno(m.setattr(x.ino, { size: 11 }, USER))).toBe('ENOSPC');
      expect(await e.checkNamespace(v.id)).toEqual([]);
      // 0 means unlimited
      const free = e.volume((await e.getVolume('vol-a'))!.id);
      expect(await free.statfs(USER)).toMatchObject({ inodeLimit: 0, capacityBytes: 0 });
    });

    it('updateVolume changes capacity, inode limit, retention, proxies and sse; open stores enforce new limits at once', async () => {
      const v = await e.createVolume({ name: 'upd', blockSize: 256 * 1024, retentionSeconds: 60, proxies: ['p1:9443'],
        blockStore: { url: 's3://bucket/upd', sse: true } });
      const m = e.volume(v.id); // opened before the change, like a mounted session's store
      const f = await m.create(ROOT_INO, 'f', 0o644, USER);
      const id = await m.allocIds(2, USER);
      await m.commit({ ino: f.ino, size: 1000, mtime: 1n, writes: [{ index: 0, blockId: id, length: 1000 }] }, USER);
      expect(await m.statfs(USER)).toMatchObject({ capacityBytes: 0, inodeLimit: 0, usedBytes: 1000, inodes: 2 });

      // below current usage is allowed: the volume is then full
      const d = await e.updateVolume('upd', { capacityBytes: 500, inodeLimit: 2, retentionSeconds: 7200, proxies: ['a:1', 'b:2'], sse: false });
      expect(d).toMatchObject({ capacityBytes: 500, inodeLimit: 2, settings: { id: v.id, name: 'upd', retentionSeconds: 7200, proxies: ['a:1', 'b:2'] } });
      expect(d.settings.blockStore.sse).toBeUndefined();
      expect(d.settings).toMatchObject({ blockSize: v.blockSize, compression: v.compression, blockStore: { url: 's3://bucket/upd' } });
      expect(await e.volumeDetails(v.id)).toEqual(d);
      expect(await e.getVolume('upd')).toEqual(d.settings);
      expect(await m.statfs(USER)).toMatchObject({ capacityBytes: 500, inodeLimit: 2, usedBytes: 1000, inodes: 2 });
      expect(await errno(m.create(ROOT_INO, 'g', 0o644, USER))).toBe('ENOSPC');
      expect(await errno(m.commit({ ino: f.ino, size: 1001, mtime: 2n, writes: [] }, USER))).toBe('ENOSPC');
      expect((await m.setattr(f.ino, { size: 400 }, USER)).size).toBe(400); // shrinking still works
      expect((await m.setattr(f.ino, { size: 500 }, USER)).size).toBe(500);
      expect(await errno(m.setattr(f.ino, { size: 501 }, USER))).toBe('ENOSPC');

      // an absent field stays; 0 and an empty proxy list mean unlimited / none
      const cleared = await e.updateVolume(v.id, { capacityBytes: 0, inodeLimit: 0, proxies: [] });
      expect(cleared).toMatchObject({ capacityBytes: 0, inodeLimit: 0, settings: { retentionSeconds: 7200 } });
      expect(cleared.settings.proxies).toBeUndefined();
      await m.create(ROOT_INO, 'g', 0o644, USER);
      expect((await m.setattr(f.ino, { size: 10_000 }, USER)).size).toBe(10_000);
      expect((await e.updateVolume('upd', { sse: true })).settings.blockStore.sse).toBe(true);

      // what its blocks are stored as cannot change; bad values name the field
      const before = await e.volumeDetails(v.id);
      for (const fixed of [{ blockSize: 1 << 20 }, { compression: 'none' }, { encryption: { kdf: 'scrypt' } }, { blockStore: { url: 'file:///x' } }, { name: 'other' }]) {
        const err = await e.updateVolume('upd', fixed as never).catch((x: unknown) => x);
        expect(isFsError(err) && err.code).toBe('EINVAL');
        expect((err as Error).message).toContain(`${Object.keys(fixed)[0]} cannot change`);
      }
      for (const bad of [{ capacityBytes: -1 }, { inodeLimit: 1.5 }, { retentionSeconds: -1 }, { proxies: ['no-port'] }, { proxies: 'a:1' }, { sse: 'yes' }]) {
        expect(await errno(e.updateVolume('upd', bad as never))).toBe('EINVAL');
      }
      expect(await e.volumeDetails(v.id)).toEqual(before);
      expect(await errno(e.updateVolume('nope', { capacityBytes: 1 }))).toBe('ENOENT');
      expect(await e.volumeDetails('nope')).toBeNull();
      expect(await e.checkNamespace(v.id)).toEqual([]);
    });

    it('link: EMLINK at the link limit', async () => {
      const v = await e.createVolume({ name: 'links', blockStore: store });
      const m = e.volume(v.id);
      const f = await m.create(ROOT_INO, 'f', 0o644, USER);
      await s.setNlink(v.id, f.ino, LINK_MAX - 1);
      expect((await m.link(f.ino, ROOT_INO, 'g', USER)).nlink).toBe(LINK_MAX);
      expect(await errno(m.link(f.ino, ROOT_INO, 'h', USER))).toBe('EMLINK');
      expect(await errno(m.lookup(ROOT_INO, 'h', USER))).toBe('ENOENT');
      expect((await m.getattr(f.ino, USER)).nlink).toBe(LINK_MAX);
      await m.unlink(ROOT_INO, 'g', USER);
      expect((await m.link(f.ino, ROOT_INO, 'h', USER)).nlink).toBe(LINK_MAX);
    });

    it('history: pruning drops the records up to a time and moves the window start there, never back', async () => {
      const instant = async (): Promise<number> => {
        const t = Date.now();
        while (Date.now() <= t + 1) await new Promise((r) => setTimeout(r, 1));
        return t;
      };
      const before = Date.now();
      const v = await e.createVolume({ name: 'hist', blockStore: store });
      const start = await e.historyStart(v.id);
      expect(start).not.toBeNull();
      expect(start! >= before && start! <= Date.now()).toBe(true);
      const m = e.volume(v.id);
      const f = await m.create(ROOT_INO, 'f', 0o644, USER);
      const t1 = await instant();
      await m.setattr(f.ino, { mode: 0o600 }, USER);
      const t2 = await instant();
      await m.setattr(f.ino, { mode: 0o640 }, USER);
      const modeAt = async (t: number) => (await (await openVolumeAt(e, v, t)).getattr(f.ino, USER)).mode & 0o7777;
      expect([await modeAt(t1), await modeAt(t2), (await m.getattr(f.ino, USER)).mode & 0o7777]).toEqual([0o644, 0o600, 0o640]);
      expect(await e.pruneHistory(v.id, t2)).toBeGreaterThan(0);
      expect(await e.historyStart(v.id)).toBe(t2);
      expect(await modeAt(t2)).toBe(0o600); // its records are after it: kept
      expect(await errno(openVolumeAt(e, v, t1))).toBe('EINVAL'); // before the new start
      await e.pruneHistory(v.id, t1);
      expect(await e.historyStart(v.id)).toBe(t2);
      expect(await e.pruneHistory(v.id, t2)).toBe(0);
    });

    it('checkNamespace finds damage', async () => {
      const v = await e.createVolume({ name: 'fsck', blockStore: store });
      const m = e.volume(v.id);
      const d = await m.mkdir(ROOT_INO, 'd', 0o755, USER);
      const f = await m.create(d.ino, 'f', 0o644, USER);
      expect(await e.checkNamespace(v.id)).toEqual([]);
      await s.dropInodeRecord(v.id, f.ino);
      const problems = await e.checkNamespace(v.id);
      expect(problems.some((p) => p.includes('dangling entry "f"'))).toBe(true);
      expect(problems.some((p) => p.includes('inode counter'))).toBe(true);
    });
  });
}
