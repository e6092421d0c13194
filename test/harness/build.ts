/**
 * The one "compile when stale" helper for tests that run compiled code (daemons, mounts and CLIs
 * run from dist/: no TS loader is installed). `npm test` builds first, so in CI this is a cheap
 * freshness check; when a developer runs vitest directly after editing src/, it runs `tsc -p .`.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './ports.js';

/** The repository root, from test/harness/ (vitest) or dist/test/harness/ (compiled, imported by bench/). */
export const REPO_ROOT = ((): string => {
  const up2 = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  return basename(up2) === 'dist' && existsSync(join(up2, '..', 'package.json')) ? resolve(up2, '..') : up2;
})();

/** Source folders whose .ts files (tests excepted) tsc compiles into dist/. */
const SOURCE_DIRS = ['src', 'bench'];
const LOCK = join(REPO_ROOT, 'dist', '.build-lock');
/** tsc gets this long; a lock older than TSC_TIMEOUT_MS + a margin belongs to a build that died. */
const TSC_TIMEOUT_MS = 240_000;
const STALE_LOCK_MS = TSC_TIMEOUT_MS + 30_000;
const LOCK_WAIT_MS = TSC_TIMEOUT_MS + 60_000;

async function newestSourceMtime(): Promise<number> {
  let newest = 0;
  for (const dir of SOURCE_DIRS) {
    const entries = await readdir(join(REPO_ROOT, dir), { withFileTypes: true, recursive: true }).catch(() => []);
    for (const e of entries) {
      if (!e.isFile() || !e.name.endsWith('.ts') || e.name.endsWith('.test.ts')) continue;
      const st = await stat(join(e.parentPath, e.name)).catch(() => undefined); // may vanish mid-walk
      if (st) newest = Math.max(newest, st.mtimeMs);
    }
  }
  return newest;
}

/** True when every output exists and none is older than the newest source file. */
async function isFresh(outputs: string[]): Promise<boolean> {
  const newest = await newestSourceMtime();
  for (const out of outputs) {
    const st = await stat(out).catch(() => undefined);
    if (!st || st.mtimeMs < newest) return false;
  }
  return true;
}

/** Take the cross-process build lock (a folder: mkdir is atomic), or return false if `done()` first. */
async function acquireLock(done: () => Promise<boolean>): Promise<boolean> {
  await mkdir(dirname(LOCK), { recursive: true });
  return waitFor(async () => {
    try {
      await mkdir(LOCK);
      return 'locked';
    } catch {
      const st = await stat(LOCK).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > STALE_LOCK_MS) await rmdir(LOCK).catch(() => undefined);
      // another worker built meanwhile: nothing left to do
      return (await done()) ? 'built' : false;
    }
  }, LOCK_WAIT_MS, `the build lock ${LOCK} (another test worker is running tsc)`, 250).then((r) => r === 'locked');
}

/** `tsc -p tsconfig.json`; resolves with its output. A non-zero exit is normal (other people's type errors). */
function runTsc(): Promise<string> {
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  return new Promise((ok) => {
    execFile(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: REPO_ROOT, timeout: TSC_TIMEOUT_MS, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => ok(`${stdout}${stderr}${err?.killed ? `\ntsc killed after ${TSC_TIMEOUT_MS} ms` : ''}`));
  });
}

/**
 * Make sure the compiled `outputs` (paths relative to the repository root, e.g.
 * 'dist/src/cli/meta/main.js', or absolute) exist and are not older than any src/ or bench/ .ts;
 * otherwise run `tsc -p .` once, serialized across parallel vitest workers by a lock folder.
 * tsc still emits when other files have type errors, so only the outputs are checked afterwards;
 * a missing one is an error that names it and quotes tsc's output.
 */
export async function ensureBuilt(outputs: string[]): Promise<void> {
  const paths = outputs.map((o) => (isAbsolute(o) ? o : join(REPO_ROOT, o)));
  if (await isFresh(paths)) return;
  if (!(await acquireLock(() => isFresh(paths)))) return;
  let tscOutput = '';
  try {
    if (await isFresh(paths)) return;
    tscOutput = await runTsc();
  } finally {
    await rmdir(LOCK).catch(() => undefined);
  }
  const missing: string[] = [];
  for (const p of paths) if (!(await stat(p).catch(() => undefined))) missing.push(p);
  if (missing.length > 0) {
    throw new Error(`tsc -p tsconfig.json did not produce ${missing.join(', ')}\n--- tsc output (tail) ---\n${tscOutput.slice(-3000)}`);
  }
}
