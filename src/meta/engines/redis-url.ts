import { REDIS_SENTINEL_DEFAULTS } from '../../config/defaults.js';
import { hideUserInfo } from '../../store/redact.js';

/**
 * The one parser of redis engine URLs:
 * - `redis://host:port[/db]`, `rediss://…`: one server (or a replication primary), handed to
 *   ioredis as is;
 * - `redis+cluster://host:port[,host:port…]`: seed nodes of a Redis Cluster;
 * - `redis+sentinel://host:port[,host:port…]/mastername[?db=N&minReplicas=N&replicaWaitMs=N&failoverWaitMs=N]`:
 *   the Sentinels watching the replicated group `mastername`; the client asks them for the
 *   current primary and follows a failover.
 * Passwords never belong in these URLs (they end up in argv): the redis password is the creds
 * file's `redisPassword`, the Sentinels' `redisSentinelPassword`. A URL carrying one is refused,
 * and every message shows the URL through redactRedisUrl.
 */

export interface HostPort { host: string; port: number }

export type RedisTarget =
  | { kind: 'single'; url: string }
  | { kind: 'cluster'; seeds: HostPort[] }
  | { kind: 'sentinel'; sentinels: HostPort[]; name: string; db: number; minReplicas: number; replicaWaitMs: number; failoverWaitMs: number };

const SINGLE = /^rediss?:\/\//i;
const CLUSTER = /^redis\+cluster:\/\//i;
const SENTINEL = /^redis\+sentinel:\/\//i;
const SENTINEL_FORM = 'redis+sentinel://host:port[,host:port…]/mastername[?db=N&minReplicas=N]';
const SENTINEL_PORT = 26379;
const REDIS_PORT = 6379;
/** Query keys a sentinel URL takes: tunables of REDIS_SENTINEL_DEFAULTS and the database. */
const SENTINEL_PARAMS = ['db', 'minReplicas', 'replicaWaitMs', 'failoverWaitMs'] as const;
/** Query keys that would carry a secret: refused, their values never shown. */
const SECRET_PARAM = /^(sentinel)?(password|pass|pw|auth|username|user)$/i;

export function isClusterUrl(url: string): boolean {
  return CLUSTER.test(url);
}

export function isSentinelUrl(url: string): boolean {
  return SENTINEL.test(url);
}

/** True for the URL forms parseRedisUrl takes. */
export function isRedisEngineUrl(url: string): boolean {
  return SINGLE.test(url) || CLUSTER.test(url) || SENTINEL.test(url);
}

/**
 * A redis URL fit for a message: no user info, and no value of a query key that could be a
 * secret (`?sentinelPassword=…` shows as `?sentinelPassword=***`).
 */
export function redactRedisUrl(url: string): string {
  const q = url.indexOf('?');
  const [base, query] = q < 0 ? [url, ''] : [url.slice(0, q), url.slice(q + 1)];
  // user info ends at the last `@` before the path; a password holding `/` is cut there too
  const shownBase = hideUserInfo(base);
  if (q < 0) return shownBase;
  const shownQuery = query.split('&').map((kv) => {
    const eq = kv.indexOf('=');
    const key = eq < 0 ? kv : kv.slice(0, eq);
    return SECRET_PARAM.test(decodeSafe(key)) ? `${key}=***` : kv;
  }).join('&');
  return `${shownBase}?${shownQuery}`;
}

function decodeSafe(s: string): string {
  try { return decodeURIComponent(s); } catch { return s; }
}

/**
 * True when a redis URL carries a secret: `scheme://user:pw@…`, `scheme://:pw@…`, or a password
 * query key (`?sentinelPassword=…`).
 */
export function urlHasPassword(url: string): boolean {
  if (/^[a-z+]+:\/\/[^/@]*:[^/@]*@/i.test(url)) return true;
  const q = url.indexOf('?');
  if (q < 0) return false;
  return url.slice(q + 1).split('&').some((kv) => /^(sentinel)?(password|pass|pw|auth)$/i.test(decodeSafe(kv.split('=')[0])));
}

function hostPorts(list: string, defaultPort: number, what: string, form: string): HostPort[] {
  if (list === '') throw new Error(`redis engine: a ${what} URL needs at least one host:port (expected ${form})`);
  return list.split(',').map((part) => {
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$/.exec(part.trim());
    const port = m?.[2] === undefined ? defaultPort : Number(m[2]);
    if (!m || port < 1 || port > 65535) throw new Error(`redis engine: bad ${what} address "${part}" (expected host:port, as in ${form})`);
    return { host: m[1].replace(/^\[|\]$/g, ''), port };
  });
}

/** Seed nodes of a `redis+cluster://host:port[,host:port…]` URL (port defaults to 6379). */
export function parseClusterUrl(url: string): HostPort[] {
  if (!CLUSTER.test(url)) throw new Error('redis engine: expected a redis+cluster:// URL');
  const rest = url.replace(CLUSTER, '').replace(/\/$/, '');
  if (rest.includes('@')) {
    throw new Error('redis engine: a redis+cluster:// URL takes no user or password; put the password in the creds file as redisPassword');
  }
  if (/[/?#]/.test(rest)) {
    throw new Error('redis engine: a redis+cluster:// URL is a list of host:port seeds only (Redis Cluster has just database 0)');
  }
  if (rest === '') throw new Error('redis engine: a redis+cluster:// URL needs at least one host:port');
  return hostPorts(rest, REDIS_PORT, 'cluster seed', 'redis+cluster://host:port[,host:port…]');
}

function wholeNumber(key: string, raw: string, min: number): number {
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < min) {
    throw new Error(`redis engine: ?${key}=${raw} must be a whole number ≥ ${min} (expected ${SENTINEL_FORM})`);
  }
  return Number(raw);
}

/**
 * `redis+sentinel://h1:p1[,h2:p2…]/mastername[?db=N&minReplicas=N&replicaWaitMs=N&failoverWaitMs=N]`
 * (Sentinel port defaults to 26379). minReplicas is how many replicas must have each mutation
 * (redis WAIT) before it is acknowledged; 0 turns the wait off.
 */
export function parseSentinelUrl(url: string): Extract<RedisTarget, { kind: 'sentinel' }> {
  if (!SENTINEL.test(url)) throw new Error(`redis engine: expected ${SENTINEL_FORM}`);
  if (urlHasPassword(url) || /^[^?]*@/.test(url.replace(SENTINEL, ''))) {
    throw new Error(`redis engine: a redis+sentinel:// URL takes no user or password (${redactRedisUrl(url)}): `
      + 'put the redis password in the creds file as redisPassword and the Sentinels\' as redisSentinelPassword');
  }
  const rest = url.replace(SENTINEL, '');
  const m = /^([^/?#]*)\/([^/?#]*)(?:\?([^#]*))?$/.exec(rest);
  if (!m) throw new Error(`redis engine: "${redactRedisUrl(url)}" has no master name (expected ${SENTINEL_FORM})`);
  const [, list, rawName, query] = m;
  const sentinels = hostPorts(list, SENTINEL_PORT, 'sentinel', SENTINEL_FORM);
  const name = decodeSafe(rawName);
  if (!/^[A-Za-z0-9._-]+$/.test(name)) {
    throw new Error(`redis engine: "${redactRedisUrl(url)}" needs the master name Sentinel monitors after the hosts (expected ${SENTINEL_FORM})`);
  }
  const out: Extract<RedisTarget, { kind: 'sentinel' }> = {
    kind: 'sentinel', sentinels, name, db: 0,
    minReplicas: REDIS_SENTINEL_DEFAULTS.minReplicas,
    replicaWaitMs: REDIS_SENTINEL_DEFAULTS.replicaWaitMs,
    failoverWaitMs: REDIS_SENTINEL_DEFAULTS.failoverWaitMs,
  };
  for (const kv of (query ?? '').split('&').filter((s) => s !== '')) {
    const eq = kv.indexOf('=');
    const key = eq < 0 ? kv : kv.slice(0, eq);
    const value = eq < 0 ? '' : kv.slice(eq + 1);
    if (!(SENTINEL_PARAMS as readonly string[]).includes(key)) {
      throw new Error(`redis engine: unknown option "${key}" in a redis+sentinel:// URL (known: ${SENTINEL_PARAMS.join(', ')})`);
    }
    if (key === 'db') out.db = wholeNumber(key, value, 0);
    else if (key === 'minReplicas') out.minReplicas = wholeNumber(key, value, 0);
    else if (key === 'replicaWaitMs') out.replicaWaitMs = wholeNumber(key, value, 1);
    else out.failoverWaitMs = wholeNumber(key, value, 0);
  }
  return out;
}

/** What a redis engine URL names; errors name the problem and the expected forms, never a password. */
export function parseRedisUrl(url: string): RedisTarget {
  if (SENTINEL.test(url)) return parseSentinelUrl(url);
  if (CLUSTER.test(url)) return { kind: 'cluster', seeds: parseClusterUrl(url) };
  if (SINGLE.test(url)) return { kind: 'single', url };
  throw new Error(`redis engine: "${redactRedisUrl(url)}" is not a redis engine URL: use redis://host:port[/db], `
    + `redis+cluster://host:port[,host:port…] or ${SENTINEL_FORM}`);
}
