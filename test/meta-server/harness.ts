import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Agent, request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { ensureBuilt as ensureBuiltOutputs, REPO_ROOT } from '../harness/build.js';
import { freePort, waitFor } from '../harness/ports.js';
import { runCommand, type CommandResult } from '../harness/run-command.js';

export const ROOT = REPO_ROOT;
export const META_MAIN = join(ROOT, 'dist', 'src', 'cli', 'meta', 'main.js');
export const META_BIN = join(ROOT, 'bin', 'meta.flexfs');

/** Daemons run from the compiled output; compile first when dist/ is missing or stale. */
export function ensureBuilt(): Promise<void> {
  return ensureBuiltOutputs([META_MAIN]);
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
export function runCli(args: string[], env: NodeJS.ProcessEnv, stdin = ''): Promise<CommandResult> {
  return runCommand(META_BIN, args, { env, stdin, timeoutMs: 60_000 });
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
