import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ensureBuilt, startMount, type StartedMount } from '../harness/mount.js';
import { tempDir } from '../harness/ports.js';

/** The compiled mount client the suites run (in a child process, never in the test process). */
export const MOUNT_ENTRY = 'dist/src/cli/mount/main.js';

export async function buildMountClient(): Promise<void> {
  await ensureBuilt([MOUNT_ENTRY]);
}

/** A temp folder the unprivileged test users can traverse (mkdtemp makes 0700). */
export async function workDir(prefix: string): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const d = await tempDir(prefix);
  await chmod(d.path, 0o755);
  return d;
}

export interface LocalMountOptions {
  /** --local DIR (sqlite meta.db + blocks/). */
  local: string;
  /** FLEXFS_HOME for the child (logs, creds). */
  home: string;
  volume?: string;
  /** Extra `start` flags, e.g. ['--ro'] or ['--secretFile', f]. */
  args?: string[];
  env?: NodeJS.ProcessEnv;
}

/** `mount.flexfs start <vol> <mp> --local DIR --foreground` in a child; resolves once live. */
export async function mountLocal(mountpoint: string, o: LocalMountOptions): Promise<StartedMount> {
  await mkdir(mountpoint, { recursive: true });
  return startMount({
    args: [MOUNT_ENTRY, 'start', o.volume ?? 'vol', mountpoint, '--local', o.local, '--foreground', ...(o.args ?? [])],
    mountpoint,
    // NOTIFY_SOCKET would make the child talk to systemd; FLEXFS_TEST_FAULTS only when a test sets it.
    env: { FLEXFS_HOME: o.home, NOTIFY_SOCKET: '', FLEXFS_TEST_FAULTS: '', ...o.env },
    timeoutMs: 60_000,
  });
}

/**
 * `mount.flexfs start <volume> <mp> --foreground [args]` of a volume on meta.flexfs (the creds file
 * under `home`, or `--credsFile` in `args`), in a child; resolves once live.
 */
export function mountRemote(volume: string, mountpoint: string, home: string, args: string[] = []): Promise<StartedMount> {
  return startMount({
    args: [MOUNT_ENTRY, 'start', volume, mountpoint, '--foreground', ...args], mountpoint,
    env: { FLEXFS_HOME: home, NOTIFY_SOCKET: '', FLEXFS_TEST_FAULTS: '' }, timeoutMs: 60_000,
  });
}

/** The sum of meta.flexfs's `flexfs_meta_requests_total` series (from its /metrics) whose labels pass `keep`. */
export async function metaRequests(port: number, ca: Buffer, keep: (labels: string) => boolean): Promise<number> {
  return Object.values(await metaRequestsByOp(port, ca, keep)).reduce((n, x) => n + x, 0);
}

/** meta.flexfs's served requests per op (`op="…"` label, results summed), from its /metrics. */
export async function metaRequestsByOp(port: number, ca: Buffer, keep: (labels: string) => boolean): Promise<Record<string, number>> {
  const { get } = await import('node:https');
  const text = await new Promise<string>((done, fail) => {
    get({ host: '127.0.0.1', port, path: '/metrics', ca }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => done(body));
    }).on('error', fail);
  });
  const byOp: Record<string, number> = {};
  for (const l of text.split('\n')) {
    if (!l.startsWith('flexfs_meta_requests_total{')) continue;
    const labels = l.slice(0, l.indexOf('}') + 1);
    if (!keep(labels)) continue;
    const op = /op="([^"]*)"/.exec(labels)?.[1] ?? '?';
    byOp[op] = (byOp[op] ?? 0) + Number(l.split(' ').pop());
  }
  return byOp;
}

export interface RunResult { code: number; stdout: string; stderr: string }

/** Run a program; never throws; killed after `timeoutMs`. */
export function run(cmd: string, args: string[], opts: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 2 ** 20, env: { ...process.env, ...opts.env } },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Run a program, expect exit 0, return stdout. */
export async function ok(cmd: string, args: string[], opts?: { timeoutMs?: number; input?: string }): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

export interface User { uid: number; gid: number; groups?: number[] }
export const ALICE: User = { uid: 1000, gid: 1000 };
export const BOB: User = { uid: 1001, gid: 1001 };
export const NOBODY: User = { uid: 65534, gid: 65534 };

export function setprivArgs(u: User): string[] {
  return [`--reuid=${u.uid}`, `--regid=${u.gid}`, u.groups?.length ? `--groups=${u.groups.join(',')}` : '--clear-groups'];
}

/** Run a program as an unprivileged user (setpriv), never throws. */
export function runAs(u: User, cmd: string, args: string[]): Promise<RunResult> {
  return run('setpriv', [...setprivArgs(u), cmd, ...args]);
}

// One node:fs/promises call in a child process running as the user; prints {ok,value}|{code}.
const FS_CALL = `
import * as fs from 'node:fs/promises';
const [op, args] = JSON.parse(process.argv[1]);
const revive = (a) => (a && typeof a === 'object' && 'buf' in a ? Buffer.from(a.buf, 'base64') : a);
try {
  let value;
  if (op === 'writeAt' || op === 'readAll') {
    const fh = await fs.open(args[0], op === 'writeAt' ? (args[3] ?? 'r+') : 'r');
    try {
      if (op === 'writeAt') { await fh.write(Buffer.from(args[1]), 0, Buffer.byteLength(args[1]), args[2]); await fh.sync(); }
      else value = (await fh.readFile()).toString();
    } finally { await fh.close(); }
  } else {
    value = await fs[op](...args.map(revive));
    if (value && typeof value === 'object' && 'mode' in value) value = { mode: value.mode, uid: value.uid, gid: value.gid, size: value.size };
    if (Buffer.isBuffer(value)) value = value.toString();
  }
  console.log(JSON.stringify({ ok: true, value: value ?? null }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, code: e.code ?? String(e) }));
}`;

/**
 * `fs.<op>(...args)` from node:fs/promises as user `u` (a child process under setpriv). Returns
 * 'OK' or the error code, and the value. Extra ops: writeAt(path, text, pos, flags='r+') with
 * fsync, readAll(path).
 */
export async function fsAs(u: User, op: string, ...args: unknown[]): Promise<{ result: string; value?: unknown }> {
  const r = await runAs(u, process.execPath, ['--input-type=module', '-e', FS_CALL, JSON.stringify([op, args])]);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let parsed: { ok: boolean; code?: string; value?: unknown };
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new Error(`fsAs ${op} as ${u.uid}: no result (exit ${r.code}): ${r.stderr}`);
  }
  return parsed.ok ? { result: 'OK', value: parsed.value } : { result: parsed.code! };
}

/** Expect a promise to reject with a Node error whose code is `code`. */
export async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ code });
}

// ------------------------------------------------------------------ data

/** Deterministic pseudo-random bytes (fast: a seeded xorshift over 32-bit words). */
export function patternBytes(seed: number, length: number): Buffer {
  const words = Math.ceil(length / 4);
  const out = Buffer.allocUnsafe(words * 4);
  let x = (seed * 2654435761 + 1) >>> 0 || 1;
  for (let i = 0; i < words; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out.writeUInt32LE(x, i * 4);
  }
  return out.subarray(0, length);
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** sha256 of a file read in 4 MiB pieces (big files are never held whole). */
export async function fileSha(path: string): Promise<{ sha: string; size: number }> {
  const h = createHash('sha256');
  const fh = await open(path, 'r');
  const buf = Buffer.allocUnsafe(4 * 2 ** 20);
  let size = 0;
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      size += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return { sha: h.digest('hex'), size };
}

/** Write `size` random bytes in 1 MiB pieces, fsync, close; returns the sha256. */
export async function writeRandomFile(path: string, size: number): Promise<string> {
  const h = createHash('sha256');
  const fh = await open(path, 'w');
  try {
    let done = 0;
    while (done < size) {
      const piece = randomBytes(Math.min(2 ** 20, size - done));
      await fh.write(piece, 0, piece.length, done);
      h.update(piece);
      done += piece.length;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}

/** Every regular file under `dir`, recursively. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Files under `dir` whose bytes contain any of `needles`. */
export async function filesContaining(dir: string, needles: Buffer[]): Promise<string[]> {
  const hits: string[] = [];
  for (const f of await listFiles(dir)) {
    const data = await readFile(f);
    if (needles.some((n) => data.includes(n))) hits.push(f);
  }
  return hits;
}

/** Spawn a node script from test/mount (plain .mjs) and collect its stdout lines as they come. */
export function spawnScript(script: string, args: string[]): { lines: string[]; exited: Promise<number | null>; kill(): void; stderr(): string } {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    partial += d.toString();
    const parts = partial.split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { lines, exited, kill: () => { child.kill('SIGKILL'); }, stderr: () => err };
}
