import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import { Redis } from 'ioredis';
import { freePort, tempDir, waitFor } from './ports.js';
import { runCommand } from './run-command.js';

/**
 * A real Redis Cluster for tests: three redis-server primaries (no replicas) on 127.0.0.1 and
 * free ports, each with its own temp folder and cluster config file, joined with
 * `redis-cli --cluster create` and waited on until every node says cluster_state:ok. All nodes
 * require a test-only password (generated here; it is in the servers' argv, handed to redis-cli
 * through REDISCLI_AUTH, and to clients separately: the URL never carries it).
 */
export interface RedisCluster {
  /** `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3` (no password). */
  url: string;
  ports: number[];
  password: string;
  /** A plain client on one node, to look behind the engine's back (only that node's keys). */
  node(port: number): Redis;
  /** The port of the primary that owns `key`'s slot. */
  ownerOf(key: string): Promise<number>;
  /** SIGTERM every node (SIGKILL after a deadline), remove their folders. */
  stop(): Promise<void>;
}

const NODES = 3;
const live = new Set<ChildProcess>();
process.once('exit', () => { for (const c of live) c.stdin?.destroy(); });

function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => { clearTimeout(t); resolve(true); });
  });
}

/** AUTH + PING over a raw socket: true once the node answers PONG. */
function ping(port: number, password: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean) => { sock.destroy(); resolve(ok); };
    let got = '';
    sock.setTimeout(1000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write(`AUTH ${password}\r\nPING\r\n`));
    sock.on('data', (d) => {
      got += d.toString();
      if (got.includes('+PONG')) done(true);
      else if (got.startsWith('-') || got.includes('\r\n-')) done(false);
    });
  });
}

interface NodeProcess {
  port: number;
  child: ChildProcess;
  signal(sig: NodeJS.Signals): void;
  log(): string;
}

/**
 * redis-server under a shell watchdog (as in redis.ts): when this process dies, even by SIGKILL,
 * the watchdog's stdin pipe closes and it kills redis-server, so no node outlives the tests.
 */
function launch(args: string[], port: number): NodeProcess {
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
  const signal = (sig: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try { if (redisPid) process.kill(redisPid, sig); } catch { /* gone */ }
  };
  return { port, child, signal, log: () => log };
}

async function stopNode(n: NodeProcess): Promise<void> {
  n.signal('SIGTERM');
  if (!(await exited(n.child, 10_000))) {
    n.signal('SIGKILL');
    await exited(n.child, 5_000);
  }
  n.child.stdin!.end();
}

export async function startRedisCluster(): Promise<RedisCluster> {
  const password = `test-${randomBytes(12).toString('hex')}`;
  const nodes: NodeProcess[] = [];
  const dirs: { cleanup(): Promise<void> }[] = [];
  const clients = new Map<number, Redis>();
  /** One plain client per node, made on first use. */
  const client = (port: number): Redis => {
    let r = clients.get(port);
    if (!r) {
      r = new Redis({ host: '127.0.0.1', port, password, maxRetriesPerRequest: 1, retryStrategy: () => null });
      r.on('error', () => undefined);
      clients.set(port, r);
    }
    return r;
  };
  const stop = async () => {
    for (const c of clients.values()) c.disconnect();
    clients.clear();
    await Promise.all(nodes.map(stopNode));
    await Promise.all(dirs.map((d) => d.cleanup()));
  };
  try {
    for (let i = 0; i < NODES; i++) {
      const dir = await tempDir('flexfs-redis-cluster-');
      dirs.push(dir);
      const port = await freePort();
      const busPort = await freePort();
      nodes.push(launch([
        '--port', String(port), '--cluster-port', String(busPort), '--bind', '127.0.0.1', '--dir', dir.path,
        '--cluster-enabled', 'yes', '--cluster-config-file', `${dir.path}/nodes.conf`, '--cluster-node-timeout', '5000',
        '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--daemonize', 'no', '--loglevel', 'warning',
        '--requirepass', password, '--masterauth', password,
      ], port));
    }
    for (const n of nodes) {
      await waitFor(async () => {
        if (n.child.exitCode !== null) throw new Error(`redis-server exited with ${n.child.exitCode}: ${n.log()}`);
        return ping(n.port, password);
      }, 20_000, `redis-server on port ${n.port}`, 50);
    }
    const made = await runCommand('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas', '0', '--cluster-yes'], { env: { REDISCLI_AUTH: password }, timeoutMs: 60_000 });
    if (made.code !== 0 || !made.stdout.includes('All 16384 slots covered')) {
      throw new Error(`redis-cli --cluster create failed (${made.code}): ${made.stdout.slice(-2000)} ${made.stderr.slice(-2000)}`);
    }
    for (const n of nodes) {
      const c = client(n.port);
      await waitFor(async () => {
        const info = String(await c.call('CLUSTER', 'INFO'));
        return info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${NODES}`);
      }, 30_000, 'cluster_state:ok on every node', 100);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  const first = client(nodes[0].port);
  return {
    url: `redis+cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`,
    ports: nodes.map((n) => n.port),
    password,
    node: client,
    ownerOf: async (key) => {
      const slot = Number(await first.call('CLUSTER', 'KEYSLOT', key));
      const ranges = (await first.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, ...unknown[]], ...unknown[]][];
      const owner = ranges.find(([lo, hi]) => slot >= lo && slot <= hi);
      if (!owner) throw new Error(`no node owns slot ${slot}`);
      return Number(owner[2][1]);
    },
    stop,
  };
}
