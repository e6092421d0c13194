import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { StartedMount } from '../harness/mount.js';
import { buildMountClient, expectCode, mountLocal, patternBytes, sha256, workDir } from './helpers.js';
import { covers } from './semantics-doc.js';

const MiB = 2 ** 20;
const DEADLINE_MS = 3_000;
/** Retries fast enough that 20% errors never exhaust them, attempts cut off at 1 s. */
const BASE = {
  retry: { maxAttempts: 12, baseDelayMs: 5, maxDelayMs: 50, attemptTimeoutMs: 1_000 },
  putDeadlineMs: DEADLINE_MS,
  getDeadlineMs: DEADLINE_MS,
};

/**
 * Injected object-store faults through a real mount: mount.flexfs reads the TEST-ONLY variable
 * FLEXFS_TEST_FAULTS=@file (src/cli/mount/test-faults.ts) and wraps its store in the fault
 * decorator under the retry decorator; the tests rewrite the file to change faults mid-run.
 */
describe('faults: injected store errors, latency and hangs through a real mount (--local)', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let m: StartedMount | undefined;
  let local: string;
  let home: string;
  let mp: string;
  let faultFile: string;
  const setFaults = async (f: object) => {
    await fsp.writeFile(faultFile + '.tmp', JSON.stringify({ ...BASE, ...f }));
    await fsp.rename(faultFile + '.tmp', faultFile);
    await new Promise((r) => setTimeout(r, 600)); // the mount re-reads it every 200 ms
  };
  const mount = () => mountLocal(mp, { local, home, env: { FLEXFS_TEST_FAULTS: `@${faultFile}` } });

  beforeAll(async () => {
    await buildMountClient();
    dir = await workDir('flexfs-mfault-');
    local = join(dir.path, 'local');
    home = join(dir.path, 'home');
    mp = join(dir.path, 'mnt');
    faultFile = join(dir.path, 'faults.json');
    await fsp.writeFile(faultFile, JSON.stringify({ ...BASE, errorRate: 0.3, latencyMs: [0, 20] }));
    m = await mount();
  });
  afterAll(async () => {
    await m?.stop();
    await dir?.cleanup();
  });

  it('with 30% failing requests and latency, data written and read back (also after a remount) is intact', async () => {
    const files = new Map<string, Buffer>();
    for (const [i, size] of [0, 1000, MiB, 4 * MiB, 4 * MiB + 1, 13 * MiB + 77].entries()) {
      const data = patternBytes(100 + i, size);
      await fsp.writeFile(join(mp, `f${i}`), data);
      files.set(`f${i}`, data);
    }
    // Many small files: enough store calls (one PUT each) that "no fault was injected" cannot
    // happen by chance (0.7^50 < 1e-7), while 12 attempts at 30% never run out (0.3^12 < 1e-6).
    for (let i = 0; i < 40; i++) {
      const data = patternBytes(1000 + i, 10_000 + i);
      await fsp.writeFile(join(mp, `small${i}`), data);
      files.set(`small${i}`, data);
    }
    // Overwrite in the middle (read-modify-write of a partial block under faults).
    const f5 = files.get('f5')!;
    const patch = patternBytes(200, 300_000);
    const fh = await fsp.open(join(mp, 'f5'), 'r+');
    await fh.write(patch, 0, patch.length, 6 * MiB - 1000);
    await fh.close();
    patch.copy(f5, 6 * MiB - 1000);
    for (const [name, data] of files) expect(sha256(await fsp.readFile(join(mp, name))), name).toBe(sha256(data));
    await m!.stop();
    expect(m!.output()).toMatch(/TEST-ONLY faults: \d+ calls, [1-9]\d* injected errors/);
    m = await mount(); // cold caches: every read goes through the faulty store
    for (const [name, data] of files) expect(sha256(await fsp.readFile(join(mp, name))), name).toBe(sha256(data));
  });

  it('a hanging store: write+fsync fails with EIO within its deadline, keeps the data, and succeeds once the store heals', async () => {
    covers('deadline-eio', 'upload-eio-retry');
    await setFaults({ hangRate: 1, ops: ['put'] });
    const data = patternBytes(300, 5 * MiB + 11);
    const fh = await fsp.open(join(mp, 'hang'), 'w');
    try {
      await fh.write(data, 0, data.length, 0);
      const t0 = Date.now();
      await expectCode(fh.sync(), 'EIO');
      const took = Date.now() - t0;
      expect(took).toBeGreaterThanOrEqual(DEADLINE_MS - 500);
      expect(took).toBeLessThan(DEADLINE_MS + 15_000);
      await setFaults({});
      await fh.sync(); // the same dirty data, uploaded now
    } finally {
      await fh.close().catch(() => undefined);
    }
    expect(sha256(await fsp.readFile(join(mp, 'hang')))).toBe(sha256(data));
  });

  it('a hanging store on reads: a read fails with EIO within its deadline, then works once healed', async () => {
    covers('deadline-eio');
    const data = patternBytes(400, 2 * MiB);
    await fsp.writeFile(join(mp, 'cold'), data);
    await m!.stop();
    await setFaults({ hangRate: 1, ops: ['get'] });
    m = await mount();
    const t0 = Date.now();
    await expectCode(fsp.readFile(join(mp, 'cold')), 'EIO');
    expect(Date.now() - t0).toBeLessThan(DEADLINE_MS + 15_000);
    await setFaults({});
    expect(sha256(await fsp.readFile(join(mp, 'cold')))).toBe(sha256(data));
  });
});
