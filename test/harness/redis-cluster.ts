import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { freePort, tempDir, waitFor } from './ports.js';
import { launch, type RedisProcess } from './redis.js';
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

export async function startRedisCluster(): Promise<RedisCluster> {
  const password = `test-${randomBytes(12).toString('hex')}`;
  const nodes: Array<RedisProcess & { port: number }> = [];
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
    await Promise.all(nodes.map((n) => n.stop()));
    await Promise.all(dirs.map((d) => d.cleanup()));
  };
  try {
    for (let i = 0; i < NODES; i++) {
      const dir = await tempDir('flexfs-redis-cluster-');
      dirs.push(dir);
      const port = await freePort();
      const busPort = await freePort();
      // launch() waits until the node answers AUTH + PING (as in redis.ts, under its watchdog).
      nodes.push({ port, ...await launch([
        '--port', String(port), '--cluster-port', String(busPort), '--bind', '127.0.0.1', '--dir', dir.path,
        '--cluster-enabled', 'yes', '--cluster-config-file', `${dir.path}/nodes.conf`, '--cluster-node-timeout', '5000',
        '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--daemonize', 'no', '--loglevel', 'warning',
        '--requirepass', password, '--masterauth', password,
      ], port, password) });
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
