import { Cluster, Redis } from 'ioredis';
import { hideUserInfo as safeUrl } from '../../store/redact.js';
import type { RedisClient } from './redis-client.js';
import { TIMEOUTS } from '../../config/defaults.js';

/**
 * Open the redis engine's client from its URL: `redis://host:port[/db]` or `rediss://…` (one
 * server or a replication primary) or `redis+cluster://host:port[,host:port…]` (seed nodes of a
 * Redis Cluster; the client learns the rest from them). The password always comes separately
 * (the creds file's redisPassword); a cluster URL with a user or password is refused.
 */

const CLUSTER = /^redis\+cluster:\/\//i;
const CONNECT_TIMEOUT_MS = TIMEOUTS.redisConnectMs;

export function isClusterUrl(url: string): boolean {
  return CLUSTER.test(url);
}

/** Seed nodes of a `redis+cluster://host:port[,host:port…]` URL (port defaults to 6379). */
export function parseClusterUrl(url: string): { host: string; port: number }[] {
  if (!CLUSTER.test(url)) throw new Error('redis engine: expected a redis+cluster:// URL');
  const rest = url.replace(CLUSTER, '').replace(/\/$/, '');
  if (rest.includes('@')) {
    throw new Error('redis engine: a redis+cluster:// URL takes no user or password; put the password in the creds file as redisPassword');
  }
  if (/[/?#]/.test(rest)) {
    throw new Error('redis engine: a redis+cluster:// URL is a list of host:port seeds only (Redis Cluster has just database 0)');
  }
  if (rest === '') throw new Error('redis engine: a redis+cluster:// URL needs at least one host:port');
  return rest.split(',').map((part) => {
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$/.exec(part.trim());
    const port = m?.[2] === undefined ? 6379 : Number(m[2]);
    if (!m || port < 1 || port > 65535) throw new Error(`redis engine: bad cluster seed "${part}" (expected host:port)`);
    return { host: m[1].replace(/^\[|\]$/g, ''), port };
  });
}

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/** A connected client that answered PING; errors name the URL without any password. */
export async function connectRedis(opts: { url: string; password?: string }): Promise<RedisClient> {
  const password = opts.password ? { password: opts.password } : {};
  const cluster = isClusterUrl(opts.url);
  const r: RedisClient = cluster
    ? new Cluster(parseClusterUrl(opts.url), {
      lazyConnect: true, enableAutoPipelining: true,
      redisOptions: { maxRetriesPerRequest: 5, ...password },
    })
    : new Redis(opts.url, { lazyConnect: true, enableAutoPipelining: true, maxRetriesPerRequest: 5, ...password });
  r.on('error', () => { /* reconnects on its own; commands fail with their own errors */ });
  try {
    await withDeadline((async () => { await r.connect(); await r.ping(); })(), CONNECT_TIMEOUT_MS);
  } catch (e) {
    r.disconnect();
    let why = String((e as Error)?.message ?? e).replace(opts.url, safeUrl(opts.url));
    if (opts.password) why = why.split(opts.password).join('***');
    throw new Error(`cannot reach redis${cluster ? ' cluster' : ''} at ${safeUrl(opts.url)}: ${why}`);
  }
  return r;
}
