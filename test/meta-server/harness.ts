import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdir, rmdir, stat, readdir } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { freePort, waitFor } from '../harness/ports.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const META_MAIN = join(ROOT, 'dist', 'src', 'cli', 'meta', 'main.js');
export const META_BIN = join(ROOT, 'bin', 'meta.flexfs');

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, await newestMtime(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) newest = Math.max(newest, (await stat(p)).mtimeMs);
  }
  return newest;
}

/**
 * Daemons run from the compiled output (no TS loader is installed). Build with `tsc -p .` when
 * dist/ is missing or older than src/; a lock folder keeps parallel test files from building at
 * once. tsc still emits when other in-progress files have type errors, so only the output counts.
 */
export async function ensureBuilt(): Promise<void> {
  const built = await stat(META_MAIN).then((s) => s.mtimeMs, () => 0);
  if (built && built >= (await newestMtime(join(ROOT, 'src')))) return;
  const lock = join(ROOT, 'dist', '.meta-build-lock');
  await mkdir(join(ROOT, 'dist'), { recursive: true });
  const deadline = Date.now() + 240_000;
  for (;;) {
    try { await mkdir(lock); break; } catch {
      // a lock left by a build that was killed: take it over after 5 minutes
      const age = await stat(lock).then((st) => Date.now() - st.mtimeMs, () => 0);
      if (age > 300_000) await rmdir(lock).catch(() => undefined);
      if (Date.now() > deadline) throw new Error('timed out waiting for another test to finish building dist/');
      await new Promise((r) => setTimeout(r, 500));
      const now = await stat(META_MAIN).then((s) => s.mtimeMs, () => 0);
      if (now && now >= (await newestMtime(join(ROOT, 'src')))) return;
    }
  }
  try {
    await new Promise<void>((resolve) => {
      execFile(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', ROOT],
        { cwd: ROOT, timeout: 240_000, maxBuffer: 64 << 20 }, () => resolve());
    });
  } finally {
    await rmdir(lock).catch(() => undefined);
  }
  await stat(META_MAIN).catch(() => { throw new Error(`build did not produce ${META_MAIN}`); });
}

export interface Daemon {
  proc: ChildProcess;
  port: number;
  addr: string;
  output(): string;
  /** SIGTERM, wait for exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
  kill9(): Promise<void>;
}

/** GET a URL, resolving with status and body; TLS verification off (health probes only). */
export function probe(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https') ? request : httpRequest;
    const req = send(url, { headers, timeout: 5000, ...(url.startsWith('https') ? { agent: new Agent({ rejectUnauthorized: false }) } : {}) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Run `meta.flexfs <args>` to completion (admin CLI), with optional stdin. */
export function runCli(args: string[], env: NodeJS.ProcessEnv, stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(META_BIN, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c) => { stdout += c; });
    p.stderr.on('data', (c) => { stderr += c; });
    const t = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('error', reject);
    p.on('close', (code) => { clearTimeout(t); resolve({ code: code ?? -1, stdout, stderr }); });
    p.stdin.end(stdin);
  });
}

/** Start `meta.flexfs start` as a child process on a free port and wait for /health. */
export async function startDaemon(opts: { home: string; args: string[]; port?: number; noSSL?: boolean }): Promise<Daemon> {
  const port = opts.port ?? await freePort();
  const args = ['start', '--bindAddr', `127.0.0.1:${port}`, ...opts.args, ...(opts.noSSL ? ['--noSSL'] : [])];
  const proc = spawn(META_BIN, args, { env: { ...process.env, FLEXFS_HOME: opts.home }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c) => { out += c; });
  proc.stderr!.on('data', (c) => { out += c; });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  let dead = false;
  void exited.then(() => { dead = true; });
  const scheme = opts.noSSL ? 'http' : 'https';
  try {
    await Promise.race([
      waitFor(async () => !dead && (await probe(`${scheme}://127.0.0.1:${port}/health`)).status === 200,
        30_000, 'meta.flexfs /health', 100),
      exited.then(() => { throw new Error('meta.flexfs exited before it was healthy'); }),
    ]);
  } catch (e) {
    proc.kill('SIGKILL');
    throw new Error(`${(e as Error).message}\n--- output ---\n${out.slice(-3000)}`);
  }
  const waitExit = async (ms: number) => Promise.race([exited, new Promise((r) => setTimeout(r, ms))]);
  return {
    proc, port, addr: `${scheme}://127.0.0.1:${port}`,
    output: () => out,
    async stop() {
      if (dead) return;
      proc.kill('SIGTERM');
      await waitExit(10_000);
      if (!dead) { proc.kill('SIGKILL'); await waitExit(5000); }
    },
    async kill9() {
      if (dead) return;
      proc.kill('SIGKILL');
      await waitExit(10_000);
    },
  };
}
