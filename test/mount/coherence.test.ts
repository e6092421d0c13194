import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { StartedMount } from '../harness/mount.js';
import type { RedisServer } from '../harness/redis.js';
import { startDaemon, type Daemon } from '../meta-server/harness.js';
import { ALICE, metaRequestsByOp, ok, patternBytes, runAs } from './helpers.js';
import { covers } from './semantics-doc.js';
import { SERVER_SETUPS, startVolumeServers, type VolumeServers } from './two-servers.js';
import { liveMountStatuses } from '../../src/ops/status.js';
import { waitFor } from '../harness/ports.js';

const ADMIN_TOKEN = 'mount-coherence-admin-token-0123456789';
/** What "at once" means here: a push is one loop turn on the server plus a frame. */
const VISIBLE_WITHIN_MS = 1000;

/**
 * Coherent caching through real mounts: mount B caches attributes, names and absent names in the
 * kernel and in the mount for long (an hour here; the defaults while a session is connected are a
 * minute, KERNEL_CACHE_DEFAULTS.heard; ACLs on: the kernel checks them from its own cache); mount A changes things; B must
 * see each change within a second without doing anything itself (only pushed invalidations can
 * do that), and B's repeated stats between changes must cost its server nothing. Once with A and
 * B on one meta.flexfs (sqlite), once on two meta.flexfs servers sharing one redis-server.
 */
for (const setup of SERVER_SETUPS) describe(`coherent caching (${setup}): pushed changes reach another mount's kernel and caches`, () => {
  let env: VolumeServers;
  let redis: RedisServer | undefined;
  let meta: Daemon | undefined;
  /** The server mount B talks to (A's is `meta`). */
  let metaB: Daemon | undefined;
  let home: string;
  let a: StartedMount;
  let b: StartedMount;
  let ca: Buffer;

  /** Requests mount B's meta.flexfs has served per op (heartbeats aside), from its /metrics. */
  const serverCalls = () => metaRequestsByOp(metaB!.port, ca, (labels) => !labels.includes('op="heartbeat"'));

  /**
   * The requests meta.flexfs served while `fn` ran, per op ({} = none). It first waits until the
   * server is quiet (the counts unchanged over 300 ms): a mount's RELEASE reaches the server
   * asynchronously after close returns, and on the one-server setup A's stragglers count too.
   */
  async function serverCallsDuring(fn: () => Promise<void>): Promise<Record<string, number>> {
    let before = await serverCalls();
    for (const start = Date.now(); Date.now() - start < 5_000;) {
      await new Promise((r) => setTimeout(r, 300));
      const now = await serverCalls();
      if (JSON.stringify(now) === JSON.stringify(before)) break;
      before = now;
    }
    await fn();
    const after = await serverCalls();
    return Object.fromEntries(Object.entries(after).map(([op, n]) => [op, n - (before[op] ?? 0)]).filter(([, d]) => d !== 0));
  }

  /** Poll `probe` on B until `seen` holds; fails naming `what` after VISIBLE_WITHIN_MS. */
  async function seenWithin<T>(what: string, probe: () => Promise<T>, seen: (v: T) => boolean): Promise<number> {
    const start = Date.now();
    let last: T | undefined;
    while (Date.now() - start < VISIBLE_WITHIN_MS) {
      last = await probe();
      if (seen(last)) return Date.now() - start;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`mount B did not see ${what} within ${VISIBLE_WITHIN_MS} ms (last: ${JSON.stringify(last, (_k, v) => typeof v === 'bigint' ? String(v) : v)})`);
  }

  const statB = (name: string): Promise<Stats | 'ENOENT'> =>
    fsp.stat(join(b.mountpoint, name)).catch((e: NodeJS.ErrnoException) => { if (e.code === 'ENOENT') return 'ENOENT' as const; throw e; });

  beforeAll(async () => {
    env = await startVolumeServers(setup, { prefix: 'coherence', adminToken: ADMIN_TOKEN, volume: 'cvol' });
    ({ home, meta, metaB, redis } = env);
    ca = await fsp.readFile(env.caPath);
    // A: the control, caching nothing in the kernel. B: long timeouts, as by default while
    // connected (60 s), but longer than this file runs: under load the file can outlast 60 s,
    // and an attribute cached in its first test expiring mid-measurement is one stray call.
    a = await env.mount('a', ['--attrTTL', '0', '--entryTTL', '0', '--negativeTTL', '0']);
    b = await env.mount('b', ['--metricsPort', '127.0.0.1:0', '--attrTTL', '3600', '--entryTTL', '3600', '--negativeTTL', '3600']);
  }, 300_000);

  afterAll(async () => {
    if (metaB !== env?.metaB) await metaB?.stop(); // a server the tests restarted
    await env?.stop();
  });

  it('B\'s repeated stat of a looked-up file costs meta.flexfs nothing', async () => {
    covers('coherence-ttl');
    await fsp.writeFile(join(a.mountpoint, 'still'), 'x');
    await seenWithin('the new file', () => statB('still'), (s) => s !== 'ENOENT');
    await statB('still');
    expect(await serverCallsDuring(async () => {
      for (let i = 0; i < 200; i++) await statB('still');
    })).toEqual({});
  });

  it('a name B found missing is remembered (no server call) until A creates it, which B then sees at once', async () => {
    expect(await statB('ghost')).toBe('ENOENT');
    expect(await serverCallsDuring(async () => {
      for (let i = 0; i < 200; i++) expect(await statB('ghost')).toBe('ENOENT');
    })).toEqual({});
    await fsp.writeFile(join(a.mountpoint, 'ghost'), 'here now');
    await seenWithin('the created name', () => statB('ghost'), (s) => s !== 'ENOENT');
  });

  it('chmod, write+close, truncate, setxattr on A: B sees each at once', async () => {
    covers('coherence-push');
    const f = join(a.mountpoint, 'f');
    await fsp.writeFile(f, 'first');
    await seenWithin('the created file', () => statB('f'), (s) => s !== 'ENOENT' && s.size === 5);

    await fsp.chmod(f, 0o600);
    await seenWithin('chmod 600', () => statB('f'), (s) => s !== 'ENOENT' && (s.mode & 0o777) === 0o600);

    const data = patternBytes(7, 300_000);
    await fsp.writeFile(f, data);
    await seenWithin('the new size after write+close', () => statB('f'), (s) => s !== 'ENOENT' && s.size === data.length);
    expect((await fsp.readFile(join(b.mountpoint, 'f'))).equals(data)).toBe(true);

    await fsp.truncate(f, 1000);
    await seenWithin('the truncate', () => statB('f'), (s) => s !== 'ENOENT' && s.size === 1000);
    expect((await fsp.readFile(join(b.mountpoint, 'f'))).equals(data.subarray(0, 1000))).toBe(true);

    const ctime = (await statB('f') as Stats).ctimeMs;
    await ok('setfattr', ['-n', 'user.k', '-v', 'v1', f]);
    await seenWithin('the xattr change (ctime)', () => statB('f'), (s) => s !== 'ENOENT' && s.ctimeMs !== ctime);
    expect(await ok('getfattr', ['--only-values', '-n', 'user.k', join(b.mountpoint, 'f')])).toBe('v1');
    // B's status file (and its metrics) count what was pushed to it
    const status = await waitFor(async () => (await liveMountStatuses(join(home, 'mount', 'run'))).find((x) => x.pid === b.pid && (x.changesReceived ?? 0) >= 5),
      15_000, 'B\'s status file counting the changes it heard');
    expect(status.metaCacheHits).toBeGreaterThan(0);
  });

  it('page cache: B\'s reopen of an unchanged file makes no read request; after A changed it, B reads the new bytes', async () => {
    covers('coherence-pages');
    const addr = /metrics on http:\/\/([^/]+)\/metrics/.exec(b.output())![1];
    const reads = async () => {
      const text = await (await fetch(`http://${addr}/metrics`)).text();
      return text.split('\n').filter((l) => l.startsWith('flexfs_mount_op_seconds_count{') && l.includes('op="read"'))
        .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
    };
    const first = patternBytes(41, 2 * 2 ** 20);
    await fsp.writeFile(join(a.mountpoint, 'pages'), first);
    await seenWithin('the file', () => statB('pages'), (s) => s !== 'ENOENT' && s.size === first.length);
    expect((await fsp.readFile(join(b.mountpoint, 'pages'))).equals(first)).toBe(true);
    // B may have read the new file before the commit's change reached it (B looked the name up
    // fresh): that late change then drops B's pages once, legitimately. Once it has arrived, a
    // reopen of the unchanged file is served from B's page cache: no FUSE read.
    await seenWithin('a reopen served from the page cache', async () => {
      const before = await reads();
      expect((await fsp.readFile(join(b.mountpoint, 'pages'))).equals(first)).toBe(true);
      return (await reads()) === before;
    }, (cached) => cached);
    const afterFirst = await reads();
    expect((await fsp.readFile(join(b.mountpoint, 'pages'))).equals(first)).toBe(true);
    expect(await reads()).toBe(afterFirst);
    const second = patternBytes(42, first.length); // same size: only the version tells
    await fsp.writeFile(join(a.mountpoint, 'pages'), second);
    await seenWithin('the new bytes', async () => (await fsp.readFile(join(b.mountpoint, 'pages'))).equals(second), (same) => same);
    expect(await reads()).toBeGreaterThan(afterFirst);
  });

  it('B\'s find lists ahead of itself: a repeated find costs the server nothing, and A\'s changes deep in the tree show at once', async () => {
    covers('coherence-listings');
    const metric = async (name: string, match = '') => {
      const addr = /metrics on http:\/\/([^/]+)\/metrics/.exec(b.output())![1];
      const text = await (await fetch(`http://${addr}/metrics`)).text();
      return text.split('\n').filter((l) => l.startsWith(name) && l.includes(match)).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
    };
    const root = join(a.mountpoint, 'tree');
    for (let d = 0; d < 6; d++) for (let e = 0; e < 3; e++) {
      await fsp.mkdir(join(root, `d${d}`, `e${e}`), { recursive: true });
      await fsp.writeFile(join(root, `d${d}`, `e${e}`, 'f'), `${d}${e}`);
    }
    await seenWithin('the last file of the tree', () => statB('tree/d5/e2/f'), (s) => s !== 'ENOENT');
    const findB = async () => (await ok('find', [join(b.mountpoint, 'tree')])).split('\n').filter(Boolean)
      .map((p) => p.slice(b.mountpoint.length)).sort();
    const prefetchedBefore = await metric('flexfs_mount_listings_prefetched_total');
    const first = await findB();
    expect(first).toHaveLength(1 + 6 + 18 + 18);
    expect(await metric('flexfs_mount_listings_prefetched_total')).toBeGreaterThan(prefetchedBefore);
    // Every listing is held now: the same walk again is answered by B alone.
    const hitsBefore = await metric('flexfs_mount_meta_cache_requests_total', 'cache="listing",result="hit"');
    let again: string[] = [];
    // (find's fts asks statfs of the mount to pick its leaf optimisation: answered fresh, not a listing)
    const { statfs: _statfs, ...calls } = await serverCallsDuring(async () => { again = await findB(); });
    expect(calls).toEqual({});
    expect(again).toEqual(first);
    expect(await metric('flexfs_mount_meta_cache_requests_total', 'cache="listing",result="hit"')).toBeGreaterThanOrEqual(hitsBefore + 25);
    // A adds a name deep down and moves a directory: B's next walk shows both, at once.
    await fsp.writeFile(join(root, 'd3', 'e1', 'new'), 'n');
    await fsp.rename(join(root, 'd1'), join(root, 'd1-moved'));
    await seenWithin('the new name and the moved directory in B\'s find', findB, (names) =>
      names.includes('/tree/d3/e1/new') && names.includes('/tree/d1-moved/e0/f') && !names.some((n) => n.startsWith('/tree/d1/')));
  });

  it('an ACL set or removed on A grants or revokes on B at once (the kernel\'s ACL cache follows)', async () => {
    const f = join(a.mountpoint, 'acl-f');
    await fsp.writeFile(f, 'for alice');
    await fsp.chmod(f, 0o600);
    const readAsAlice = async () => (await runAs(ALICE, 'cat', [join(b.mountpoint, 'acl-f')])).code;
    await seenWithin('the file', () => statB('acl-f'), (s) => s !== 'ENOENT' && (s.mode & 0o777) === 0o600);
    expect(await readAsAlice()).not.toBe(0); // denied, and that answer is cached by B's kernel
    await ok('setfacl', ['-m', `u:${ALICE.uid}:r`, f]);
    await seenWithin('the ACL granting alice', readAsAlice, (code) => code === 0);
    await ok('setfacl', ['-b', f]);
    await seenWithin('the ACL gone', readAsAlice, (code) => code !== 0);
  });

  it('rename over, unlink, create and a new directory entry on A: B\'s cached names follow at once', async () => {
    await fsp.writeFile(join(a.mountpoint, 'old'), 'old name');
    await fsp.writeFile(join(a.mountpoint, 'new'), 'the replacement, longer');
    const before = await seenWithin('both files', async () => [await statB('old'), await statB('new')],
      ([o, n]) => o !== 'ENOENT' && n !== 'ENOENT');
    expect(before).toBeLessThan(VISIBLE_WITHIN_MS);
    const replacement = (await statB('new') as Stats).ino;

    await fsp.rename(join(a.mountpoint, 'new'), join(a.mountpoint, 'old'));
    await seenWithin('the rename over "old"', async () => [await statB('old'), await statB('new')],
      ([o, n]) => o !== 'ENOENT' && o.ino === replacement && n === 'ENOENT');
    expect(await fsp.readFile(join(b.mountpoint, 'old'), 'utf8')).toBe('the replacement, longer');

    await fsp.unlink(join(a.mountpoint, 'old'));
    await seenWithin('the unlink', () => statB('old'), (s) => s === 'ENOENT');

    await fsp.mkdir(join(a.mountpoint, 'd'));
    await seenWithin('the new directory', () => statB('d'), (s) => s !== 'ENOENT' && s.isDirectory());
    const nlink = (await statB('d') as Stats).nlink;
    await fsp.mkdir(join(a.mountpoint, 'd', 'sub'));
    await seenWithin('the parent\'s nlink after mkdir inside it', () => statB('d'), (s) => s !== 'ENOENT' && s.nlink === nlink + 1);
    expect(await fsp.readdir(join(b.mountpoint, 'd'))).toEqual(['sub']);
  });

  it.runIf(setup !== 'one meta.flexfs')('a change made while B\'s server was down reaches B after it reconnects', async () => {
    covers('coherence-reconnect');
    const f = join(a.mountpoint, 'while-away');
    await fsp.writeFile(f, 'x');
    await seenWithin('the new file', () => statB('while-away'), (s) => s !== 'ENOENT');
    const port = metaB!.port;
    await metaB!.stop();
    await fsp.chmod(f, 0o640); // through A's server: B's server is not there to pass it on
    metaB = await startDaemon({ home, port, args: ['--dbFolder', join(home, 'db'), '--sessionTtl', '120', '--engine', redis!.url] });
    // B resumes its session within its reconnect backoff, then drops everything it cached
    const start = Date.now();
    let mode = 0;
    while (Date.now() - start < 20_000) {
      const s = await statB('while-away');
      if (s !== 'ENOENT' && (mode = s.mode & 0o777) === 0o640) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(mode.toString(8)).toBe('640');
    // and B's log says the connection went and came back
    expect(b.output()).toMatch(/metadata connection to [^ ]+ lost/);
    expect(b.output()).toMatch(/metadata connection to [^ ]+ back after \d+ s \(same session\)/);
  });

  it('B\'s server killed: nothing B cached outlives the outage; after the restart B sees what A changed meanwhile', async () => {
    if (!metaB || metaB === meta) return; // one server: A would be cut off too (remote.test.ts covers that restart)
    const f = join(b.mountpoint, 'outage-file');
    await fsp.writeFile(join(a.mountpoint, 'outage-file'), 'x');
    await fsp.chmod(join(a.mountpoint, 'outage-file'), 0o600);
    await seenWithin('the new file', () => statB('outage-file'), (st) => st !== 'ENOENT' && (st.mode & 0o777) === 0o600);
    const port = metaB.port;
    await metaB.kill9();
    // A (on the other server) changes the file and adds a name while B hears nothing.
    await new Promise((r) => setTimeout(r, 300));
    await fsp.chmod(join(a.mountpoint, 'outage-file'), 0o640);
    await fsp.writeFile(join(a.mountpoint, 'outage-new'), 'y');
    // B's stat now waits for its server (the kernel dropped what B cached at the drop) ...
    const during = fsp.stat(f);
    const newName = statB('outage-new');
    await new Promise((r) => setTimeout(r, 500));
    metaB = await startDaemon({ home, port, args: ['--dbFolder', join(home, 'db'), '--sessionTtl', '120', '--engine', redis!.url] });
    // ... and answers with what A changed, never the mode B had cached before the outage.
    expect((await during).mode & 0o777).toBe(0o640);
    expect(await newName).not.toBe('ENOENT');
    // Connected again: long caching is back (a repeated stat costs the server nothing).
    await fsp.stat(f);
    expect(await serverCallsDuring(async () => {
      for (let i = 0; i < 50; i++) await fsp.stat(f);
    })).toEqual({});
  });

  it('B\'s own changes are seen by A (A caches nothing long: the control)', async () => {
    await fsp.writeFile(join(b.mountpoint, 'from-b'), 'written on B');
    expect(await fsp.readFile(join(a.mountpoint, 'from-b'), 'utf8')).toBe('written on B');
  });
});
