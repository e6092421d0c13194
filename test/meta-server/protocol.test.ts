import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsError, isFsError } from '../../src/errors/index.js';
import {
  CloseCode, PROTOCOL_VERSION, META_OPS, packFrame, unpackFrame, validateArgs,
} from '../../src/meta/protocol/index.js';
import { connectMeta, type MetaSession } from '../../src/meta/client/index.js';
import { ROOT_INO, type Changes } from '../../src/meta/types.js';
import { startInProcess, type InProc } from './inproc.js';
import { probe } from './harness.js';
import { waitFor } from '../harness/ports.js';
import { rawSocket } from './raw-socket.js';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import selfsigned from 'selfsigned';

const ctx = { uid: 0, gid: 0 };

describe('protocol frames and argument validation', () => {
  it('round-trips bigint ns times, buffers and large numbers', () => {
    const v = unpackFrame(packFrame({ t: 1_700_000_000_123_456_789n, b: Buffer.from('xy'), n: 2 ** 40, u: undefined }));
    expect(v).toEqual({ t: 1_700_000_000_123_456_789n, b: Buffer.from('xy'), n: 2 ** 40, u: undefined });
  });
  it('names the bad argument', () => {
    expect(() => validateArgs('lookup', META_OPS.lookup, [0, 'x', ctx])).toThrow(/lookup: argument 1 must be an inode/);
    expect(() => validateArgs('lookup', META_OPS.lookup, [1, 'x', { uid: 'root', gid: 0 }])).toThrow(/argument 3 must carry numeric uid/);
    expect(() => validateArgs('setattr', META_OPS.setattr, [1, { bogus: 1 }, ctx])).toThrow(/unknown field "bogus"/);
    expect(() => validateArgs('setattr', META_OPS.setattr, [1, { atime: 5, keepCtime: 1 }, ctx])).toThrow(/"keepCtime" must be a boolean/);
    expect(() => validateArgs('getattr', META_OPS.getattr, [1, ctx, 3])).toThrow(/at most 2/);
    const args: unknown[] = [1, { mtime: 5 }, { ...ctx, sessionId: 'forged' }];
    expect(validateArgs('setattr', META_OPS.setattr, args)).toBe(2);
    expect(args[1]).toEqual({ mtime: 5n });
    expect(args[2]).toEqual(ctx); // forged session id dropped; the server sets its own
  });
});

describe('meta server over TLS (in process, sqlite engine)', () => {
  let srv: InProc;
  let session: MetaSession;
  beforeAll(async () => {
    srv = await startInProcess();
    session = await connectMeta({ addr: srv.server.url, token: srv.volumeToken, tls: { ca: srv.certPath } });
  });
  afterAll(async () => {
    await session?.close();
    await srv?.cleanup();
  });

  it('hands the volume settings with bucket credentials at session start', async () => {
    expect(session.settings.name).toBe('vol1');
    expect(session.settings.blockStore.blockUser).toBe('AKIDTEST');
    expect(session.settings.blockStore.blockPass).toBe('bucket-secret');
    expect(session.sessionId).toMatch(/.+/);
    expect((await session.store.settings()).id).toBe(session.settings.id);
  });

  it('serves MetaStore calls and keeps errnos across the wire', async () => {
    const dir = await session.store.mkdir(ROOT_INO, 'd1', 0o40755, ctx);
    expect(dir.type).toBe('dir');
    expect(typeof dir.mtime).toBe('bigint');
    const got = await session.store.lookup(ROOT_INO, 'd1', ctx);
    expect(got.ino).toBe(dir.ino);
    const err = await session.store.lookup(ROOT_INO, 'missing', ctx).catch((e) => e);
    expect(err).toBeInstanceOf(FsError);
    expect(err.code).toBe('ENOENT');
    const e2 = await session.store.mkdir(ROOT_INO, 'd1', 0o40755, ctx).catch((e) => e);
    expect(isFsError(e2, 'EEXIST')).toBe(true);
    await session.store.setxattr(dir.ino, 'user.k', Buffer.from([0, 1, 2]), 0, ctx);
    expect(await session.store.getxattr(dir.ino, 'user.k', ctx)).toEqual(Buffer.from([0, 1, 2]));
    const page = await session.store.readdir(ROOT_INO, ctx);
    expect(page.entries.map((e) => e.name)).toContain('d1');
    expect(page.next).toBeUndefined();
  });

  it('runs concurrent calls multiplexed on one socket', async () => {
    const names = Array.from({ length: 50 }, (_, i) => `f${i}`);
    const created = await Promise.all(names.map((n) => session.store.create(ROOT_INO, n, 0o100644, ctx)));
    expect(new Set(created.map((a) => a.ino)).size).toBe(50);
    const looked = await Promise.all(names.map((n) => session.store.lookup(ROOT_INO, n, ctx)));
    expect(looked.map((a) => a.ino)).toEqual(created.map((a) => a.ino));
  });

  it('pins the certificate: by PEM, by fingerprint; refuses an unpinned self-signed cert', async () => {
    const fp = srv.server.fingerprint!;
    const s2 = await connectMeta({ addr: srv.server.url, token: srv.volumeToken, tls: { fingerprint: fp } });
    expect(s2.settings.name).toBe('vol1');
    await s2.close();
    const wrongFp = fp.replace(/^../, fp.startsWith('00') ? '11' : '00');
    // A pin that does not match: both fingerprints, and the command that re-pins.
    const mismatch = await connectMeta({ addr: srv.server.url, token: srv.volumeToken, volume: 'vol1', tls: { fingerprint: wrongFp } }).catch((e: Error) => e);
    expect((mismatch as Error).message).toContain(`presented a certificate with SHA-256 fingerprint ${fp}, not the pinned ${wrongFp}`);
    expect((mismatch as Error).message).toContain(`mount.flexfs init creds vol1 --metaAddr ${srv.server.url} --metaFingerprint ${fp}`);
    // No pin at all: the self-signed certificate is refused with its fingerprint and the flags that pin it.
    const unpinned = await connectMeta({ addr: srv.server.url, token: srv.volumeToken, volume: 'vol1' }).catch((e: Error) => e);
    expect((unpinned as Error).message).toContain('does not trust');
    expect((unpinned as Error).message).toContain(`its SHA-256 fingerprint is ${fp}`);
    expect((unpinned as Error).message).toMatch(/--metaFingerprint .*--metaCA .*--trustOnFirstUse/);
    // A pinned certificate (metaCA) that is not the server's: named with both fingerprints too.
    const other = join(tmpdir(), `flexfs-other-${process.pid}.pem`);
    await writeFile(other, (await selfsigned.generate([{ name: 'commonName', value: 'other' }], { keyType: 'ec' })).cert);
    const wrongCa = await connectMeta({ addr: srv.server.url, token: srv.volumeToken, volume: 'vol1', tls: { ca: other } }).catch((e: Error) => e);
    await rm(other, { force: true });
    expect((wrongCa as Error).message).toMatch(new RegExp(`fingerprint ${fp}, not the pinned [0-9A-F:]{95}`));
    const s3 = await connectMeta({ addr: srv.server.url, token: srv.volumeToken, tls: { insecure: true } });
    await s3.close();
  });

  it('refuses wrong and revoked tokens with clear errors, naming no secret', async () => {
    const bad = await connectMeta({ addr: srv.server.url, token: 'not-a-token', tls: { ca: srv.certPath } }).catch((e) => e);
    expect(bad.message).toMatch(/invalid or revoked token/);
    expect(bad.message).not.toMatch(/not-a-token/);
    const t = await srv.engine.createToken({ volume: session.settings.id });
    const live = await connectMeta({ addr: srv.server.url, token: t.secret, tls: { ca: srv.certPath } });
    await srv.engine.revokeToken(t.id);
    await expect(connectMeta({ addr: srv.server.url, token: t.secret, tls: { ca: srv.certPath } })).rejects.toThrow(/invalid or revoked/);
    await live.close();
    await expect(connectMeta({ addr: srv.server.url, token: srv.volumeToken, volume: 'nope', tls: { ca: srv.certPath } }))
      .rejects.toThrow(/volume "nope" does not exist|not valid for volume/);
  });

  it('serves REST health, version, metrics and admin routes', async () => {
    const base = srv.server.url;
    expect((await probe(`${base}/health`)).status).toBe(200);
    expect(JSON.parse((await probe(`${base}/version`)).body).protocol).toBe(PROTOCOL_VERSION);
    const m = await probe(`${base}/metrics`);
    expect(m.body).toMatch(/flexfs_meta_requests_total\{op="lookup",result="ENOENT"\} \d+/);
    expect(m.body).toMatch(/flexfs_meta_connected_sessions \d+/);
    expect((await probe(`${base}/v1/volumes`)).status).toBe(401);
    expect((await probe(`${base}/v1/volumes`, { authorization: 'Bearer wrong' })).status).toBe(401);
    const vols = await probe(`${base}/v1/volumes`, { authorization: `Bearer ${srv.adminToken}` });
    expect(vols.status).toBe(200);
    const list = JSON.parse(vols.body);
    expect(list[0].name).toBe('vol1');
    expect(vols.body).not.toContain('bucket-secret');
    expect((await probe(`${base}/v1/volumes/nope`, { authorization: `Bearer ${srv.adminToken}` })).status).toBe(404);
  });
});

describe('settings handed to a mount', () => {
  let srv: InProc;
  beforeAll(async () => { srv = await startInProcess(); });
  afterAll(async () => { await srv?.cleanup(); });

  it('hands bucket credentials only to volumes that use static ones', async () => {
    let ambientToken = '';
    const connect = async (name: string, blockStore: Record<string, unknown>) => {
      const v = await srv.engine.createVolume({ name, blockStore: { url: `file://${srv.dir}/${name}`, ...blockStore } });
      const { secret } = await srv.engine.createToken({ volume: v.id });
      if (name === 'ambient1') ambientToken = secret;
      return connectMeta({ addr: srv.server.url, token: secret, tls: { ca: srv.certPath } });
    };
    const ambient = await connect('ambient1', { credentials: 'ambient', assumeRoleArn: 'arn:aws:iam::1:role/r' });
    const fixed = await connect('static1', { credentials: 'static' });
    const own = await connect('own1', { credentials: 'static', blockUser: 'AKIDOWN', blockPass: 'own-secret' });
    try {
      expect(ambient.settings.blockStore.credentials).toBe('ambient');
      expect(ambient.settings.blockStore.assumeRoleArn).toBe('arn:aws:iam::1:role/r');
      expect(ambient.settings.blockStore).not.toHaveProperty('blockUser');
      expect(ambient.settings.blockStore).not.toHaveProperty('blockPass');
      expect(JSON.stringify(ambient.settings)).not.toContain('bucket-secret');
      // the "settings" op follows the same rule
      const raw = await rawSocket(srv.server.url);
      raw.ws.send(packFrame({ t: 'hello', v: PROTOCOL_VERSION, token: ambientToken, host: 'test', pid: 1 }));
      expect(await raw.next()).toMatchObject({ t: 'welcome', settings: { name: 'ambient1' } });
      raw.ws.send(packFrame({ id: 1, op: 'settings', args: [] }));
      const again = (await raw.next()) as { id: number; ok: { blockStore: Record<string, unknown> } };
      expect(again.ok.blockStore.credentials).toBe('ambient');
      expect(again.ok.blockStore).not.toHaveProperty('blockPass');
      expect(again.ok.blockStore).not.toHaveProperty('blockUser');
      raw.ws.close();
      expect(fixed.settings.blockStore).toMatchObject({ blockUser: 'AKIDTEST', blockPass: 'bucket-secret' });
      expect(own.settings.blockStore).toMatchObject({ blockUser: 'AKIDOWN', blockPass: 'own-secret' });
    } finally {
      await Promise.all([ambient.close(), fixed.close(), own.close()]);
    }
  });
});

describe('bad input is refused and other sessions keep working', () => {
  let srv: InProc;
  let good: MetaSession;
  const hello = (token: string, v = PROTOCOL_VERSION) => packFrame({ t: 'hello', v, token, host: 'test', pid: 1 });
  beforeAll(async () => {
    srv = await startInProcess();
    good = await connectMeta({ addr: srv.server.url, token: srv.volumeToken, tls: { insecure: true } });
  });
  afterAll(async () => {
    await good?.close();
    await srv?.cleanup();
  });
  const stillServing = async () => expect((await good.store.getattr(ROOT_INO, ctx)).ino).toBe(ROOT_INO);

  it('malformed msgpack closes that socket only', async () => {
    const s = await rawSocket(srv.server.url);
    s.ws.send(hello(srv.volumeToken));
    expect(await s.next()).toMatchObject({ t: 'welcome' });
    s.ws.send(Buffer.from([0xc1, 0xff, 0x00]));
    expect((await s.closed).code).toBe(CloseCode.malformed);
    await stillServing();
  });

  it('an oversized frame closes that socket with 1009', async () => {
    const s = await rawSocket(srv.server.url);
    s.ws.send(hello(srv.volumeToken));
    await s.next();
    s.ws.send(packFrame({ id: 1, op: 'setxattr', args: [1, 'user.big', Buffer.alloc(2 << 20), 0, ctx] }));
    expect((await s.closed).code).toBe(CloseCode.tooBig);
    await stillServing();
  });

  it('an unknown op or bad arguments get an error reply and the session goes on', async () => {
    const s = await rawSocket(srv.server.url);
    s.ws.send(hello(srv.volumeToken));
    await s.next();
    s.ws.send(packFrame({ id: 7, op: 'formatDisk', args: [] }));
    expect(await s.next()).toMatchObject({ id: 7, err: { code: 'ENOSYS' } });
    s.ws.send(packFrame({ id: 8, op: 'getattr', args: ['one', ctx] }));
    expect(await s.next()).toMatchObject({ id: 8, err: { code: 'EINVAL' } });
    s.ws.send(packFrame({ id: 9, op: 'getattr', args: [ROOT_INO, ctx] }));
    expect(await s.next()).toMatchObject({ id: 9, ok: { ino: ROOT_INO } });
    s.ws.send('text frame');
    expect((await s.closed).code).toBe(CloseCode.unsupportedData);
    await stillServing();
  });

  it('requests before the handshake, wrong tokens and old protocol versions are refused', async () => {
    const a = await rawSocket(srv.server.url);
    a.ws.send(packFrame({ id: 1, op: 'getattr', args: [1, ctx] }));
    expect(await a.next()).toMatchObject({ t: 'refused', reason: 'bad-hello' });
    expect((await a.closed).code).toBe(CloseCode.badHello);
    const b = await rawSocket(srv.server.url);
    b.ws.send(hello('wrong-token'));
    expect(await b.next()).toMatchObject({ t: 'refused', reason: 'auth' });
    expect((await b.closed).code).toBe(CloseCode.auth);
    const c = await rawSocket(srv.server.url);
    c.ws.send(hello(srv.volumeToken, PROTOCOL_VERSION + 1));
    const refused = await c.next() as { reason: string; message: string };
    expect(refused.reason).toBe('version');
    expect(refused.message).toMatch(/client speaks 2, server speaks 1/);
    expect((await c.closed).code).toBe(CloseCode.version);
    await stillServing();
    const metrics = await probe(`${srv.server.url}/metrics`);
    expect(metrics.body).toMatch(/flexfs_meta_errors_total\{kind="malformed"\} [1-9]/);
    expect(metrics.body).toMatch(/flexfs_meta_errors_total\{kind="auth"\} [1-9]/);
  });
});

describe('the server, not the client, enforces tokens and session expiry', () => {
  // ttl 2 s → the server re-checks a session at most every 500 ms, heartbeats or not.
  let srv: InProc;
  const hello = (token: string) => packFrame({ t: 'hello', v: PROTOCOL_VERSION, token, host: 'test', pid: 1 });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  beforeAll(async () => { srv = await startInProcess({ ttlSeconds: 2 }); });
  afterAll(async () => { await srv?.cleanup(); });

  it('a client that never heartbeats loses access once its token is revoked', async () => {
    const t = await srv.engine.createToken({ volume: (await srv.engine.getVolume('vol1'))!.id });
    const s = await rawSocket(srv.server.url);
    s.ws.send(hello(t.secret));
    expect(await s.next()).toMatchObject({ t: 'welcome' });
    s.ws.send(packFrame({ id: 1, op: 'getattr', args: [ROOT_INO, ctx] }));
    expect(await s.next()).toMatchObject({ id: 1, ok: { ino: ROOT_INO } });
    await srv.engine.revokeToken(t.id);
    await sleep(700);
    s.ws.send(packFrame({ id: 2, op: 'mkdir', args: [ROOT_INO, 'after-revoke', 0o755, ctx] }));
    expect((await s.closed).code).toBe(CloseCode.auth);
    await expect(srv.engine.volume((await srv.engine.getVolume('vol1'))!.id).lookup(ROOT_INO, 'after-revoke', ctx)).rejects.toThrow(/ENOENT/);
  });

  it('a request on a session the server expired closes the socket unanswered (the client starts anew)', async () => {
    const s = await rawSocket(srv.server.url);
    s.ws.send(hello(srv.volumeToken));
    const welcome = await s.next() as { sessionId: string };
    await srv.engine.expireSessions(Date.now() + 60_000);
    expect((await srv.engine.listSessions()).map((x) => x.id)).not.toContain(welcome.sessionId);
    await sleep(700);
    s.ws.send(packFrame({ id: 1, op: 'open', args: [ROOT_INO, ctx] }));
    expect((await s.closed).code).toBe(CloseCode.sessionExpired);
    // no hold was taken for the dead session
    expect(await srv.engine.checkNamespace((await srv.engine.getVolume('vol1'))!.id)).toEqual([]);
  });

  it('names of Object.prototype are unknown ops, not crashes', async () => {
    const s = await rawSocket(srv.server.url);
    s.ws.send(hello(srv.volumeToken));
    await s.next();
    for (const [i, op] of ['constructor', '__proto__', 'toString', 'hasOwnProperty'].entries()) {
      s.ws.send(packFrame({ id: i + 1, op, args: [] }));
      expect(await s.next()).toMatchObject({ id: i + 1, err: { code: 'ENOSYS' } });
    }
    s.ws.close();
  });

  it('a volume token cannot use the admin routes', async () => {
    const r = await probe(`${srv.server.url}/v1/volumes`, { authorization: `Bearer ${srv.volumeToken}` });
    expect(r.status).toBe(401);
  });
});

describe('reconnect, resume and deadlines', () => {
  let srv: InProc;
  beforeAll(async () => { srv = await startInProcess({ ttlSeconds: 4 }); });
  afterAll(async () => { await srv?.cleanup(); });

  it('a call made while the server is down completes after it comes back, on the same session', async () => {
    const s = await connectMeta({ addr: srv.server.url, token: srv.volumeToken, tls: { insecure: true } });
    try {
      const sid = s.sessionId;
      await s.store.mkdir(ROOT_INO, 'before', 0o40755, ctx);
      await srv.server.close();
      const during = s.store.mkdir(ROOT_INO, 'during', 0o40755, ctx);
      await new Promise((r) => setTimeout(r, 300));
      await srv.restart();
      const attr = await during;
      expect(attr.type).toBe('dir');
      expect(s.sessionId).toBe(sid);
      expect((await s.store.lookup(ROOT_INO, 'during', ctx)).ino).toBe(attr.ino);
    } finally { await s.close(); }
  });

  it('after its session expired, a client gets a new session and takes its holds again', async () => {
    const s = await connectMeta({ addr: srv.server.url, token: srv.volumeToken, tls: { insecure: true } });
    try {
      const old = s.sessionId;
      const f = await s.store.create(ROOT_INO, 'held', 0o100644, ctx, true);
      await srv.server.close();
      // the outage outlasts the session: expire it as the server's timer would
      expect(await srv.engine.expireSessions(Date.now() + 3_600_000)).toBeGreaterThanOrEqual(1);
      await srv.restart();
      await s.store.unlink(ROOT_INO, 'held', ctx);
      expect(s.sessionId).not.toBe(old);
      // still held by the new session: the unlinked inode lives until released
      expect((await s.store.getattr(f.ino, ctx)).nlink).toBe(0);
      await s.store.release(f.ino, ctx);
      const err = await s.store.getattr(f.ino, ctx).catch((e) => e);
      expect(isFsError(err, 'ENOENT')).toBe(true);
    } finally { await s.close(); }
  });

  it('a retried mutation with the same opId is applied once', async () => {
    const s = await connectMeta({ addr: srv.server.url, token: srv.volumeToken, tls: { insecure: true } });
    try {
      const opctx = { ...ctx, opId: 'fixed-op-id-1' };
      const a = await s.store.create(ROOT_INO, 'once', 0o100644, opctx);
      const b = await s.store.create(ROOT_INO, 'once', 0o100644, opctx);
      expect(b.ino).toBe(a.ino);
    } finally { await s.close(); }
  });

  it('calls fail with EIO after their deadline while the server stays down', async () => {
    const s = await connectMeta({ addr: srv.server.url, token: srv.volumeToken, tls: { insecure: true }, callTimeoutMs: 1500 });
    try {
      await srv.server.close();
      const t0 = Date.now();
      const err = await s.store.getattr(ROOT_INO, ctx).catch((e) => e);
      expect(isFsError(err, 'EIO')).toBe(true);
      expect(Date.now() - t0).toBeLessThan(10_000);
      await srv.restart();
      // and it recovers once the server is back (the first call may still meet the backoff)
      const back = await waitFor(() => s.store.getattr(ROOT_INO, ctx).catch(() => null), 20_000, 'reconnect after restart', 50);
      expect(back.ino).toBe(ROOT_INO);
    } finally { await s.close(); }
  });

  it('a revoked token ends a live session at its next heartbeat', async () => {
    const t = await srv.engine.createToken({ volume: (await srv.engine.getVolume('vol1'))!.id });
    const s = await connectMeta({ addr: srv.server.url, token: t.secret, tls: { insecure: true } });
    try {
      await s.store.getattr(ROOT_INO, ctx);
      await srv.engine.revokeToken(t.id);
      // heartbeat every ttl/4 = 1 s
      const deadline = Date.now() + 10_000;
      let err: unknown;
      while (Date.now() < deadline) {
        err = await s.store.getattr(ROOT_INO, ctx).then(() => null, (e) => e);
        if (err) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(isFsError(err, 'EACCES')).toBe(true);
    } finally { await s.close(); }
  });
});

describe('changes pushed to watching sessions (coherent caching)', () => {
  let srv: InProc;
  beforeAll(async () => { srv = await startInProcess(); });
  afterAll(async () => { await srv?.cleanup(); });

  const open = (watch: boolean) => connectMeta({ addr: srv.server.url, token: srv.volumeToken, tls: { insecure: true }, watch });

  it('a watcher hears every other session\'s mutations, batched; the writer and non-watchers hear nothing', async () => {
    const [writer, watcher, deaf] = await Promise.all([open(true), open(true), open(false)]);
    try {
      const heard: (Changes | null)[] = [];
      const mine: (Changes | null)[] = [];
      watcher.store.watch!((c) => heard.push(c));
      writer.store.watch!((c) => mine.push(c));
      expect(deaf.store.watch).toBeTypeOf('function'); // it has the method, the server sends it nothing
      const d = await writer.store.mkdir(ROOT_INO, 'cd', 0o40755, ctx);
      const f = await writer.store.create(d.ino, 'f', 0o100644, ctx);
      await writer.store.setattr(f.ino, { size: 10 }, ctx);
      await writer.store.rename(d.ino, 'f', ROOT_INO, 'g', ctx);
      await writer.store.setxattr(f.ino, 'user.k', Buffer.from('v'), 0, ctx);
      await writer.store.getattr(f.ino, ctx); // reads change nothing
      await waitFor(async () => {
        const all = heard.filter((c): c is Changes => c !== null);
        return all.some((c) => c.e.some(([p, n]) => p === ROOT_INO && n === 'g')) && all.some((c) => c.a.includes(f.ino) && c.d.length === 0) ? true : null;
      }, 5000, 'the rename and the xattr change', 20);
      const merged = { e: new Set<string>(), a: new Set<number>(), d: new Set<number>() };
      for (const c of heard) {
        expect(c).not.toBeNull();
        for (const [p, n] of c!.e) merged.e.add(`${p}/${n}`);
        for (const i of c!.a) merged.a.add(i);
        for (const i of c!.d) merged.d.add(i);
      }
      expect([...merged.e].sort()).toEqual([`${ROOT_INO}/cd`, `${ROOT_INO}/g`, `${d.ino}/f`].sort());
      expect([...merged.a].sort()).toEqual([ROOT_INO, d.ino, f.ino].sort());
      expect([...merged.d]).toEqual([f.ino]); // the truncate
      expect(mine).toEqual([]);
      // calls finishing in the same loop turn share a frame
      const frames = heard.length;
      await Promise.all(Array.from({ length: 40 }, (_, i) => writer.store.create(ROOT_INO, `b${i}`, 0o100644, ctx)));
      await waitFor(() => (heard.flatMap((c) => c!.e).filter(([, n]) => n.startsWith('b')).length === 40 ? true : null), 5000, 'the 40 creates', 20);
      expect(heard.length - frames).toBeLessThan(40);
    } finally {
      await Promise.all([writer.close(), watcher.close(), deaf.close()]);
    }
  });

  it('after a reconnect the watcher is told that it may have missed changes (null)', async () => {
    const watcher = await open(true);
    try {
      const heard: (Changes | null)[] = [];
      watcher.store.watch!((c) => heard.push(c));
      await srv.server.close();
      await srv.restart();
      await waitFor(() => watcher.store.getattr(ROOT_INO, ctx).catch(() => null), 20_000, 'reconnect after restart', 50);
      expect(heard).toContain(null);
    } finally { await watcher.close(); }
  });
});
