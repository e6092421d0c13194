import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { freePort, tempDir, waitFor } from './ports.js';

export interface RedisServer {
  url: string;
  port: number;
  /** SIGTERM and wait (SIGKILL after a deadline); removes the data folder. */
  stop(): Promise<void>;
  /** SIGKILL at once (crash simulation); the data folder stays until stop(). */
  kill9(): Promise<void>;
  /**
   * Start redis-server again on the same port and data folder, so it replays its append-only file
   * (after kill9() for crash recovery; a still running server is stopped with SIGTERM first).
   */
  restart(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => { for (const c of live) c.stdin?.destroy(); });

function ping(port: number, password?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean) => { sock.destroy(); resolve(ok); };
    let got = '';
    sock.setTimeout(1000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write(`${password ? `AUTH ${password}\r\n` : ''}PING\r\n`));
    sock.on('data', (d) => {
      got += d.toString();
      if (got.includes('+PONG')) done(true);
      else if (got.startsWith('-') || (password && got.includes('\r\n-'))) done(false);
    });
  });
}

export function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => { clearTimeout(t); resolve(true); });
  });
}

/** A running redis-server under its shell watchdog; `signal` reaches redis-server itself. */
export interface RedisProcess {
  child: ChildProcess;
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM and wait, then SIGKILL; closes the watchdog. */
  stop(): Promise<void>;
}

/**
 * Start redis-server with `args` and wait until it answers PING on `port`. A shell watchdog: when
 * this process dies (even by SIGKILL, as vitest may do to a worker) its stdin pipe closes and the
 * watchdog kills redis-server, so no server outlives the tests.
 */
export async function launch(args: string[], port: number, password?: string): Promise<RedisProcess> {
  const script = 'exec 3<&0; redis-server "$@" </dev/null & pid=$!; echo "$pid"; '
    + '( while read -r _; do :; done; kill -9 "$pid" 2>/dev/null ) <&3 & wait "$pid"';
  const child = spawn('sh', ['-c', script, 'sh', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(child);
  let log = '';
  let redisPid = 0;
  child.stdout!.on('data', (d) => {
    const text = String(d);
    if (!redisPid) redisPid = Number(/^(\d+)/.exec(text)?.[1] ?? 0);
    log = (log + text).slice(-4000);
  });
  child.stderr!.on('data', (d) => { log = (log + d).slice(-4000); });
  child.once('exit', () => { live.delete(child); child.stdin!.destroy(); });
  // The watchdog shell exits with redis-server: once it has, the pid may belong to someone else.
  const signal = (sig: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try { if (redisPid) process.kill(redisPid, sig); } catch { /* gone */ }
  };
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}: ${log}`);
      return ping(port, password);
    }, 20_000, `redis-server on port ${port}`, 50);
  } catch (e) {
    signal('SIGKILL');
    child.stdin!.end();
    await exited(child, 5_000);
    throw e;
  }
  const stop = async () => {
    signal('SIGTERM');
    if (!(await exited(child, 10_000))) { signal('SIGKILL'); await exited(child, 5_000); }
    child.stdin!.end();
  };
  return { child, signal, stop };
}

/**
 * A real redis-server on 127.0.0.1 and a free port, data in a temp folder, AOF on. With
 * `password` it requires AUTH (the url stays without it: clients are given it separately).
 */
export async function startRedis(opts: { appendfsync?: 'always' | 'everysec'; password?: string } = {}): Promise<RedisServer> {
  const dir = await tempDir('flexfs-redis-');
  const port = await freePort();
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir.path, '--save', '',
    '--appendonly', 'yes', '--appendfsync', opts.appendfsync ?? 'everysec', '--protected-mode', 'no',
    '--daemonize', 'no', '--loglevel', 'warning',
    ...(opts.password ? ['--requirepass', opts.password] : []),
  ];
  let proc = await launch(args, port, opts.password).catch(async (e) => { await dir.cleanup(); throw e; });
  const kill9 = async () => {
    proc.signal('SIGKILL');
    await exited(proc.child, 10_000);
  };
  const shutdown = async () => {
    proc.signal('SIGTERM');
    if (!(await exited(proc.child, 10_000))) await kill9();
    proc.child.stdin!.end();
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill9,
    restart: async () => {
      await shutdown();
      proc = await launch(args, port, opts.password);
    },
    stop: async () => {
      await shutdown();
      await dir.cleanup();
    },
  };
}
