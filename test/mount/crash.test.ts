import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { StartedMount } from '../harness/mount.js';
import { waitFor } from '../harness/ports.js';
import { findFuseMount } from '../../src/fuse/mountinfo.js';
import { buildMountClient, mountLocal, run, spawnScript, workDir } from './helpers.js';
import { covers } from './semantics-doc.js';

const WRITER = join(import.meta.dirname, 'crash-writer.mjs');
const MiB = 2 ** 20;

interface Acks { log: number[]; ow: number; dir: number }

function parseAcks(lines: string[]): Acks {
  const acks: Acks = { log: [0, 0, 0], ow: 0, dir: -1 };
  for (const line of lines) {
    const [tag, what, a, b] = line.split(' ');
    if (tag !== 'ACK') continue;
    if (what === 'log') acks.log[Number(a)] = Math.max(acks.log[Number(a)], Number(b));
    if (what === 'ow') acks.ow = Math.max(acks.ow, Number(a));
    if (what === 'dir') acks.dir = Math.max(acks.dir, Number(a));
  }
  return acks;
}

/**
 * kill -9 of the mount process while a writer (another process) appends, overwrites, fsyncs and
 * renames; then clean the dead mount (fusermount -u -z), remount the same --local DIR, and check
 * that every acknowledged fsync / directory operation is intact and nothing torn is visible.
 */
describe('crash: kill -9 of the mount during writes (--local)', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let m: StartedMount | undefined;
  let local: string;
  let home: string;
  let mp: string;

  beforeAll(async () => {
    await buildMountClient();
    dir = await workDir('flexfs-mcrash-');
    local = join(dir.path, 'local');
    home = join(dir.path, 'home');
    mp = join(dir.path, 'mnt');
  });
  afterAll(async () => {
    await m?.stop();
    await dir?.cleanup();
  });

  for (const [round, logMiB, owGens] of [[1, 12, 2], [2, 20, 3]] as const) {
    it(`round ${round}: everything fsync'd survives, no partial block is visible (kill after ≥${logMiB} MiB logged)`, async () => {
      covers('fsync-durable', 'dirops-durable');
      m = await mountLocal(mp, { local, home });
      const work = join(mp, `round-${round}`);
      await mkdir(work);
      const writer = spawnScript(WRITER, ['write', work]);
      let writerDone = false;
      void writer.exited.then(() => { writerDone = true; });
      try {
        await waitFor(() => {
          if (writerDone) return true; // fail below with its output
          const a = parseAcks(writer.lines);
          return a.log.reduce((x, y) => x + y, 0) >= logMiB * MiB && a.ow >= owGens && a.dir >= 1;
        }, 60_000, 'the writer to get enough acknowledged fsyncs', 20);
        expect(writerDone, `the writer stopped before the crash: ${writer.lines.slice(-2).join(" | ")} ${writer.stderr()}`).toBe(false);
        process.kill(m.pid, 'SIGKILL');
        expect(await m.exited).toBe(-1); // died by the signal, not a clean exit
        // The writer now fails on the dead mount (ENOTCONN); give it a moment, then make sure.
        await Promise.race([writer.exited, new Promise((r) => setTimeout(r, 10_000))]);
      } finally {
        writer.kill();
        await writer.exited;
      }
      const acks = parseAcks(writer.lines);
      await m.stop(); // fusermount -u -z of the dead mount
      expect(await findFuseMount(mp)).toBeUndefined();
      m = await mountLocal(mp, { local, home });
      const v = await run(process.execPath, [WRITER, 'verify', work, JSON.stringify(acks)], { timeoutMs: 120_000 });
      expect(v.stderr).toBe('');
      expect(JSON.parse(v.stdout.trim().split('\n').pop()!)).toEqual({ problems: [] });
      await m.stop();
      m = undefined;
    }, 180_000);
  }
});
