import { Cluster, Redis } from 'ioredis';
import type { RedisClient } from './redis-client.js';
import { TIMEOUTS } from '../../config/defaults.js';
import { parseRedisUrl, redactRedisUrl } from './redis-url.js';

export { isClusterUrl, parseClusterUrl } from './redis-url.js';

/**
 * Open the redis engine's client from its URL (redis-url.ts): `redis://host:port[/db]` or
 * `rediss://…` (one server or a replication primary), `redis+cluster://host:port[,host:port…]`
 * (seed nodes of a Redis Cluster; the client learns the rest from them) or
 * `redis+sentinel://host:port[,…]/mastername` (the Sentinels of a replicated group: the client
 * asks them for the primary, and again after a failover). The passwords always come separately
 * (the creds file's redisPassword and redisSentinelPassword); URLs carrying one are refused.
 */

const CONNECT_TIMEOUT_MS = TIMEOUTS.redisConnectMs;
/** Requests ioredis keeps queued across this many reconnects before failing them. */
const MAX_RETRIES_PER_REQUEST = 5;

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

function makeClient(url: string, password?: string, sentinelPassword?: string): { client: RedisClient; what: string } {
  const pw = password ? { password } : {};
  const target = parseRedisUrl(url);
  if (target.kind === 'cluster') {
    return {
      what: 'redis cluster',
      client: new Cluster(target.seeds, {
        lazyConnect: true, enableAutoPipelining: true,
        redisOptions: { maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST, ...pw },
      }),
    };
  }
  if (target.kind === 'sentinel') {
    return {
      what: 'redis sentinel',
      client: new Redis({
        sentinels: target.sentinels, name: target.name, role: 'master', db: target.db,
        ...pw, ...(sentinelPassword ? { sentinelPassword } : {}),
        lazyConnect: true, enableAutoPipelining: true, maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST,
        // hear +switch-master from the Sentinels instead of waiting for the old primary to fail
        failoverDetector: true,
        // a demoted primary answers READONLY: reconnect (to whoever the Sentinels name) and resend
        reconnectOnError: (err) => (/READONLY/.test(err.message) ? 2 : false),
      }),
    };
  }
  return {
    what: 'redis',
    client: new Redis(target.url, { lazyConnect: true, enableAutoPipelining: true, maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST, ...pw }),
  };
}

/**
 * Errors ioredis would retry forever that no retry fixes at start: a wrong password, a master
 * name no Sentinel monitors. They fail the start at once, with a hint.
 */
const FATAL_AT_START: [RegExp, string][] = [
  [/WRONGPASS|NOAUTH|invalid password|NOPERM/i, 'check redisPassword / redisSentinelPassword in the creds file'],
  [/No such master with that name/i, 'no Sentinel monitors a master of that name: check the name after the hosts in the URL'],
];

/** A connected client that answered PING; errors name the URL without any password. */
export async function connectRedis(opts: { url: string; password?: string; sentinelPassword?: string }): Promise<RedisClient> {
  const { client: r, what } = makeClient(opts.url, opts.password, opts.sentinelPassword);
  let fatal: (e: Error) => void = () => undefined;
  const fatalSeen = new Promise<never>((_, reject) => { fatal = reject; });
  fatalSeen.catch(() => undefined);
  r.on('error', (e: Error) => {
    // reconnects on its own; commands fail with their own errors. At start, some errors are final.
    const hit = FATAL_AT_START.find(([re]) => re.test(String(e?.message)));
    if (hit) fatal(new Error(`${String(e.message).replace(/^.*Last error: /, '')} (${hit[1]})`));
  });
  try {
    await withDeadline(Promise.race([(async () => { await r.connect(); await r.ping(); })(), fatalSeen]), CONNECT_TIMEOUT_MS);
  } catch (e) {
    r.disconnect();
    let why = String((e as Error)?.message ?? e).split(opts.url).join(redactRedisUrl(opts.url));
    for (const secret of [opts.password, opts.sentinelPassword]) if (secret) why = why.split(secret).join('***');
    throw new Error(`cannot reach ${what} at ${redactRedisUrl(opts.url)}: ${why}`);
  }
  return r;
}
