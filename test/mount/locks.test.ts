import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { writeCreds } from '../../src/config/creds.js';
import { AdminClient } from '../../src/meta/client/index.js';
import type { StartedMount } from '../harness/mount.js';
import { sharedRgw, type Rgw } from '../harness/rgw.js';
import { waitFor } from '../harness/ports.js';
import { F_WRLCK, crosser, flockNb, hold, probe, release, waiter } from '../harness/locks.js';
import { ensureBuilt as ensureMetaBuilt, startDaemon, type Daemon } from '../meta-server/harness.js';
import { buildMountClient, mountRemote, workDir } from './helpers.js';
import { covers } from './semantics-doc.js';
import { SERVER_SETUPS, startVolumeServers, type VolumeServers } from './two-servers.js';

const ADMIN_TOKEN = 'mount-locks-admin-token-0123456789abc';

/**
 * Shared locks through real mounts: two mounts A and B of one volume, python3's fcntl and
 * util-linux flock as the programs. Once with both mounts on one meta.flexfs (sqlite), once on
 * two meta.flexfs servers sharing one redis-server (a lock freed on one server wakes a waiter
 * on the other through the servers' change bus).
 */
for (const setup of SERVER_SETUPS) describe(`shared locks (${setup}): every mount of a volume sees one lock table`, () => {
  let env: VolumeServers;
  let meta: Daemon | undefined;
  let metaB: Daemon | undefined;
  let home: string;
  let a: StartedMount;
  let b: StartedMount;
  let seq = 0;

  /** A fresh 200-byte file: its path on A and on B. */
  async function file(): Promise<[string, string]> {
    const name = `f${seq++}`;
    await fsp.writeFile(join(a.mountpoint, name), 'x'.repeat(200));
    await waitFor(async () => fsp.stat(join(b.mountpoint, name)).then(() => true, () => false), 10_000, 'B to see the file', 20);
    return [join(a.mountpoint, name), join(b.mountpoint, name)];
  }

  beforeAll(async () => {
    env = await startVolumeServers(setup, { prefix: 'locks', adminToken: ADMIN_TOKEN, volume: 'lvol' });
    ({ home, meta, metaB } = env);
    a = await env.mount('a');
    b = await env.mount('b');
  }, 300_000);

  afterAll(async () => {
    await env?.stop();
  });

  it('an fcntl lock on A conflicts on B, F_GETLK on B reports it, and it goes when its holder is killed', async () => {
    covers('locks-shared', 'locks-getlk', 'locks-kill');
    const [fa, fb] = await file();
    const h = await hold(fa, 'posix');
    let released = false;
    try {
      expect(await probe(fb)).toEqual({ ex0: 'EAGAIN', ex100: 'ok', getlk: [F_WRLCK, 0, 10, h.pid] });
      h.child.kill('SIGKILL');
      await h.done;
      released = true;
      expect(await probe(fb)).toMatchObject({ ex0: 'ok', ex100: 'ok' });
    } finally {
      if (!released) await release(h);
    }
  });

  it('flock on A conflicts on B (shared and exclusive), apart from fcntl locks, and goes at close', async () => {
    covers('locks-flock');
    const [fa, fb] = await file();
    const h = await hold(fa, 'flock');
    try {
      expect(await flockNb(fb)).toBe(1);
      expect(await flockNb(fb, true)).toBe(1);
      expect(await probe(fb)).toMatchObject({ ex0: 'ok' }); // an fcntl lock is not blocked by a flock
    } finally {
      await release(h);
    }
    expect(await flockNb(fb)).toBe(0);
  });

  it('a blocked F_SETLKW on B wakes when A unlocks; a blocked flock likewise', async () => {
    covers('locks-wait');
    for (const kind of ['posix', 'flock'] as const) {
      const [fa, fb] = await file();
      const h = await hold(fa, kind);
      const w = waiter(fb, kind);
      try {
        await w.saw(/^asking/);
        // still waiting while A holds it (a lock B could get would print at once)
        await new Promise((r) => setTimeout(r, 1500));
        expect(w.lines().filter((l) => !l.startsWith('asking'))).toEqual([]);
        await release(h);
        expect(await w.saw(/^(got|E[A-Z]+)$/)).toBe('got');
        // B holds it now: A cannot take it
        if (kind === 'flock') expect(await flockNb(fa)).toBe(1);
        else expect((await probe(fa)).ex0).toBe('EAGAIN');
      } finally {
        await w.end();
        if (h.child.exitCode === null) await release(h);
      }
    }
  });

  it('a process killed while it waits ends at once: the wait is interrupted, the holder keeps its lock', async () => {
    covers('locks-interrupt');
    const [fa, fb] = await file();
    const h = await hold(fa, 'posix');
    try {
      const w = waiter(fb, 'posix');
      await w.saw(/^asking/);
      await new Promise((r) => setTimeout(r, 500));
      w.child.kill('SIGKILL');
      await w.done; // would hang until the holder let go if the mount kept answering nothing
      expect((await probe(fb)).ex0).toBe('EAGAIN');
    } finally {
      await release(h);
    }
  });

  it('a deadlock across mounts answers EDEADLK to the request that would close the cycle', async () => {
    covers('locks-deadlock');
    const [f1a, f1b] = await file();
    const [f2a, f2b] = await file();
    const p1 = crosser(f1a, f2a); // on A: f1, then f2
    const p2 = crosser(f2b, f1b); // on B: f2, then f1
    try {
      await p1.saw(/^locked/);
      await p2.saw(/^locked/);
      p1.say('go');
      p2.say('go');
      // whichever asked second closes the cycle; the other waits
      await waitFor(async () => [...p1.lines(), ...p2.lines()].some((l) => /^E[A-Z]+$/.test(l)), 20_000, 'one of them to fail', 20)
        .catch((e) => { throw new Error(`${String(e)}: A said ${JSON.stringify(p1.lines())}, B said ${JSON.stringify(p2.lines())}`); });
      const [loser, winner] = p1.lines().some((l) => /^E[A-Z]+$/.test(l)) ? [p1, p2] : [p2, p1];
      // python names errno 35 EDEADLOCK (its alias on Linux)
      expect(loser.lines().filter((l) => /^E[A-Z]+$/.test(l))).toEqual([expect.stringMatching(/^EDEADL(OC)?K$/)]);
      expect(winner.lines().filter((l) => !l.startsWith('locked'))).toEqual([]);
      await loser.end(); // its locks go at exit: the other gets through
      expect(await winner.saw(/^(got|E[A-Z]+)$/)).toBe('got');
    } finally {
      for (const p of [p1, p2]) { p.child.kill('SIGKILL'); await p.done; }
    }
  });
});

/**
 * kill -9 of a whole mount: nothing closes its files, so its locks stay until its session
 * expires (a short --sessionTtl here), and then a waiter on another mount gets through.
 */
describe('shared locks: a mount killed with kill -9 keeps its locks until its session expires', () => {
  const TTL_SECONDS = 6;
  let dir: { path: string; cleanup: () => Promise<void> };
  let rgw: Rgw;
  let meta: Daemon;
  const mounts: StartedMount[] = [];

  beforeAll(async () => {
    await buildMountClient();
    await ensureMetaBuilt();
    dir = await workDir('flexfs-locks-kill-');
    const home = join(dir.path, 'home');
    rgw = await sharedRgw();
    await writeCreds(join(home, 'meta', 'creds'), { adminToken: ADMIN_TOKEN, blockUser: rgw.accessKey, blockPass: rgw.secretKey });
    meta = await startDaemon({ home, args: ['--dbFolder', join(home, 'db'), '--sessionTtl', String(TTL_SECONDS)] });
    const admin = new AdminClient(`127.0.0.1:${meta.port}`, ADMIN_TOKEN, { ca: join(home, 'meta', 'tls', 'cert.pem') });
    await admin.createVolume({
      name: 'kvol',
      blockStore: { url: `s3://${rgw.bucket}/locks-kill-${randomBytes(4).toString('hex')}`, endpoint: rgw.endpoint, region: rgw.region, pathStyle: true },
    });
    const token = await admin.createToken({ volume: 'kvol', label: 'locks kill test' });
    const creds = join(home, 'mount', 'creds', 'k');
    await writeCreds(creds, { metaAddr: `127.0.0.1:${meta.port}`, token: token.secret, metaCA: join(home, 'meta', 'tls', 'cert.pem') });
    for (const name of ['doomed', 'other']) mounts.push(await mountRemote('kvol', join(dir.path, name), home, ['--credsFile', creds]));
  }, 300_000);

  afterAll(async () => {
    for (const m of mounts) await m.stop();
    await meta?.stop();
    await rgw?.stop();
    await dir?.cleanup();
  });

  it('the lock holds right after the kill and goes at the expiry: the waiter on the other mount gets it', async () => {
    covers('locks-kill');
    const [doomed, other] = mounts;
    await fsp.writeFile(join(doomed.mountpoint, 'f'), 'x'.repeat(200));
    const fb = join(other.mountpoint, 'f');
    await waitFor(async () => fsp.stat(fb).then(() => true, () => false), 10_000, 'the other mount to see the file', 20);
    const h = await hold(join(doomed.mountpoint, 'f'), 'posix');
    process.kill(doomed.pid, 'SIGKILL');
    await doomed.exited;
    const w = waiter(fb, 'posix');
    try {
      await w.saw(/^asking/);
      expect((await probe(fb)).ex0).toBe('EAGAIN'); // the session is still alive: so is its lock
      expect(await w.saw(/^(got|E[A-Z]+)$/, (TTL_SECONDS + 30) * 1000)).toBe('got');
    } finally {
      w.child.kill('SIGKILL');
      await w.done;
      h.child.kill('SIGKILL');
    }
  }, 120_000);
});
