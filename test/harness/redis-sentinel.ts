import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, tempDir, waitFor } from './ports.js';
import { exited, launch, type RedisProcess } from './redis.js';

/**
 * A real Redis Sentinel deployment for tests: a primary and one replica (redis-server, AOF on,
 * both requiring a test-only password, each with masterauth so either can be a replica), and
 * three `redis-server --sentinel` processes (quorum 2, their own test-only password) watching
 * them as MASTER. All on 127.0.0.1 and free ports, each in its own temp folder, each under the
 * watchdog of redis.ts's launch(). down-after-milliseconds and failover-timeout are short so a
 * failover takes seconds. Passwords are handed to clients separately: the URL never has them.
 */
export const MASTER = 'flexfs-test';
const DOWN_AFTER_MS = 1000;
const FAILOVER_TIMEOUT_MS = 5000;
const SENTINELS = 3;
const QUORUM = 2;
const READY_MS = 30_000;

export interface RedisSentinel {
  /** `redis+sentinel://127.0.0.1:s1,127.0.0.1:s2,127.0.0.1:s3/flexfs-test` (no password). */
  url: string;
  password: string;
  sentinelPassword: string;
  sentinelPorts: number[];
  /** Ports of the two data nodes (primary first at start). */
  dataPorts: number[];
  /** The data node the Sentinels name as primary now. */
  primaryPort(): Promise<number>;
  /**
   * A graceful switch (`SENTINEL FAILOVER`): the replica is promoted and the primary, still
   * running, is demoted to its replica (clients writing to it get READONLY). Resolves with the
   * new primary's port once the old one replicates from it.
   */
  switchover(): Promise<number>;
  /** kill -9 the current primary; resolves with its port once the process is gone. */
  kill9Primary(): Promise<number>;
  /** Wait until the Sentinels name a primary other than `oldPort` and it answers as master. */
  waitForFailover(oldPort: number, timeoutMs?: number): Promise<number>;
  /**
   * Start a killed data node again (same port, folder and flags) as a replica of the current
   * primary, as an operator brings a failed primary back (left to itself it would start as a
   * stale primary until the Sentinels, 8 to 20 s later, demote it). Resolves once its
   * replication link is up.
   */
  restart(port: number): Promise<void>;
  /** A plain client on one data node (look behind the engine's back). */
  node(port: number): Redis;
  /** Stop every process, remove the folders. */
  stop(): Promise<void>;
}

/** SENTINEL MASTER's flat [k, v, k, v…] reply as a record. */
function fields(reply: unknown): Record<string, string> {
  const a = reply as string[];
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < a.length; i += 2) out[a[i]] = String(a[i + 1]);
  return out;
}

export async function startRedisSentinel(): Promise<RedisSentinel> {
  const password = `test-${randomBytes(12).toString('hex')}`;
  const sentinelPassword = `test-s-${randomBytes(12).toString('hex')}`;
  const dirs: { cleanup(): Promise<void> }[] = [];
  const data = new Map<number, { args: string[]; proc?: RedisProcess }>();
  const sentinels: Array<RedisProcess & { port: number }> = [];
  const clients = new Map<number, Redis>();
  const client = (port: number, pw = password): Redis => {
    let r = clients.get(port);
    if (!r) {
      r = new Redis({ host: '127.0.0.1', port, password: pw, maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: false });
      r.on('error', () => undefined);
      r.on('end', () => { if (clients.get(port) === r) clients.delete(port); });
      clients.set(port, r);
    }
    return r;
  };
  const sentinelClient = (port: number) => client(port, sentinelPassword);
  const info = async (port: number) => String(await client(port).info('replication'));

  const stop = async () => {
    for (const c of clients.values()) c.disconnect();
    clients.clear();
    await Promise.all(sentinels.map((s) => s.stop()));
    await Promise.all([...data.values()].map((d) => d.proc?.stop()));
    await Promise.all(dirs.map((d) => d.cleanup()));
  };

  const startData = async (replicaOf?: number): Promise<number> => {
    const dir = await tempDir('flexfs-redis-sentinel-data-');
    dirs.push(dir);
    const port = await freePort();
    const args = [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir.path, '--save', '',
      '--appendonly', 'yes', '--appendfsync', 'everysec', '--protected-mode', 'no', '--daemonize', 'no',
      '--loglevel', 'warning', '--requirepass', password, '--masterauth', password,
      ...(replicaOf ? ['--replicaof', '127.0.0.1', String(replicaOf)] : []),
    ];
    data.set(port, { args, proc: await launch(args, port, password) });
    return port;
  };

  const primaryPort = async (): Promise<number> => {
    let lastErr: unknown;
    for (const s of sentinels) {
      try {
        const addr = (await sentinelClient(s.port).call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER)) as [string, string] | null;
        if (addr) return Number(addr[1]);
      } catch (e) { lastErr = e; }
    }
    throw new Error(`no Sentinel names a primary for ${MASTER}: ${String(lastErr)}`);
  };

  try {
    const primary = await startData();
    const replica = await startData(primary);
    await waitFor(async () => (await info(replica)).includes('master_link_status:up'), READY_MS, 'the replica in sync', 100);
    for (let i = 0; i < SENTINELS; i++) {
      const dir = await tempDir('flexfs-redis-sentinel-');
      dirs.push(dir);
      const port = await freePort();
      const conf = join(dir.path, 'sentinel.conf');
      await writeFile(conf, [
        `port ${port}`, 'bind 127.0.0.1', 'protected-mode no', `dir ${dir.path}`, 'loglevel warning',
        `sentinel monitor ${MASTER} 127.0.0.1 ${primary} ${QUORUM}`,
        `sentinel auth-pass ${MASTER} ${password}`,
        `sentinel down-after-milliseconds ${MASTER} ${DOWN_AFTER_MS}`,
        `sentinel failover-timeout ${MASTER} ${FAILOVER_TIMEOUT_MS}`,
        `sentinel parallel-syncs ${MASTER} 1`,
        `requirepass ${sentinelPassword}`,
        '',
      ].join('\n'), { mode: 0o600 });
      sentinels.push({ port, ...await launch([conf, '--sentinel'], port, sentinelPassword) });
    }
    // Every Sentinel knows the replica and the two other Sentinels before anyone may fail.
    for (const s of sentinels) {
      await waitFor(async () => {
        const m = fields(await sentinelClient(s.port).call('SENTINEL', 'MASTER', MASTER));
        return m['num-slaves'] === '1' && m['num-other-sentinels'] === String(SENTINELS - 1) && !m.flags.includes('down');
      }, READY_MS, `Sentinel ${s.port} seeing the replica and the other Sentinels`, 200);
    }
  } catch (e) {
    await stop();
    throw e;
  }

  const nodeProc = (port: number) => {
    const d = data.get(port);
    if (!d) throw new Error(`no data node on port ${port}`);
    return d;
  };

  return {
    url: `redis+sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${MASTER}`,
    password,
    sentinelPassword,
    sentinelPorts: sentinels.map((s) => s.port),
    dataPorts: [...data.keys()],
    primaryPort,
    switchover: async () => {
      const old = await primaryPort();
      const reply = await sentinelClient(sentinels[0].port).call('SENTINEL', 'FAILOVER', MASTER);
      if (String(reply) !== 'OK') throw new Error(`SENTINEL FAILOVER answered ${String(reply)}`);
      const now = await waitFor(async () => {
        const p = await primaryPort();
        return p !== old && (await info(p)).includes('role:master') ? p : false;
      }, READY_MS, 'the switchover to the replica', 100);
      await waitFor(async () => {
        const i = await info(old);
        return i.includes('role:slave') && i.includes(`master_port:${now}`) && i.includes('master_link_status:up');
      }, READY_MS, `the demoted primary ${old} replicating from ${now}`, 100);
      return now;
    },
    kill9Primary: async () => {
      const port = await primaryPort();
      const d = nodeProc(port);
      d.proc!.signal('SIGKILL');
      if (!(await exited(d.proc!.child, 10_000))) throw new Error(`redis-server on ${port} survived SIGKILL`);
      d.proc!.child.stdin!.end();
      d.proc = undefined;
      clients.get(port)?.disconnect();
      return port;
    },
    waitForFailover: async (oldPort, timeoutMs = READY_MS) => waitFor(async () => {
      const now = await primaryPort();
      if (now === oldPort) return false;
      return (await info(now)).includes('role:master') ? now : false;
    }, timeoutMs, `a Sentinel failover away from port ${oldPort}`, 100),
    restart: async (port) => {
      const d = nodeProc(port);
      if (d.proc) throw new Error(`data node ${port} is still running`);
      const primary = await primaryPort();
      const at = d.args.indexOf('--replicaof');
      const args = at < 0 ? [...d.args] : [...d.args.slice(0, at), ...d.args.slice(at + 3)];
      d.args = [...args, '--replicaof', '127.0.0.1', String(primary)];
      d.proc = await launch(d.args, port, password);
      await waitFor(async () => {
        const i = await info(port);
        return i.includes('role:slave') && i.includes('master_link_status:up');
      }, READY_MS, `the restarted node ${port} replicating from the new primary`, 100);
    },
    node: (port) => client(port),
    stop,
  };
}
