import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { freePort, tempDir, waitFor } from '../harness/ports.js';

/**
 * A redis-server (appendfsync always) that can be SIGKILLed and started again on the same port
 * and data folder, for the "kill -9 redis" durability case. (test/harness/redis.ts has no restart.)
 */
export interface RestartableRedis {
  url: string;
  kill9(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(1000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

export async function restartableRedis(): Promise<RestartableRedis> {
  const dir = await tempDir('flexfs-redis-dur-');
  const port = await freePort();
  let child: ChildProcess | null = null;
  const waitExit = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null ? Promise.resolve()
    : new Promise<void>((r) => { const t = setTimeout(r, 10_000); c.once('exit', () => { clearTimeout(t); r(); }); });
  const start = async () => {
    const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir.path, '--save', '',
      '--appendonly', 'yes', '--appendfsync', 'always', '--protected-mode', 'no', '--loglevel', 'warning'], { stdio: 'ignore' });
    child = c;
    await waitFor(async () => { if (c.exitCode !== null) throw new Error('redis-server exited'); return ping(port); }, 20_000, 'redis-server', 50);
  };
  const kill9 = async () => { if (child) { child.kill('SIGKILL'); await waitExit(child); } };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    start,
    kill9,
    stop: async () => { await kill9(); await dir.cleanup(); },
  };
}
