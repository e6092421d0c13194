import { describe, expect, it } from 'vitest';
import { REDIS_SENTINEL_DEFAULTS } from '../../config/defaults.js';
import { openEngine } from './index.js';
import { isRedisEngineUrl, parseRedisUrl, parseSentinelUrl, redactRedisUrl, urlHasPassword } from './redis-url.js';

const SECRET = 'hunter2-s3cr3t';

function message(f: () => unknown): string {
  try { f(); } catch (e) { return (e as Error).message; }
  return 'no error';
}

describe('redis engine URLs', () => {
  it('parses a sentinel URL: hosts (default port 26379), master name, defaults from the table', () => {
    expect(parseRedisUrl('redis+sentinel://10.0.0.1:26380,h2,[::1]:5000/mymaster')).toEqual({
      kind: 'sentinel',
      sentinels: [{ host: '10.0.0.1', port: 26380 }, { host: 'h2', port: 26379 }, { host: '::1', port: 5000 }],
      name: 'mymaster', db: 0,
      minReplicas: REDIS_SENTINEL_DEFAULTS.minReplicas,
      replicaWaitMs: REDIS_SENTINEL_DEFAULTS.replicaWaitMs,
      failoverWaitMs: REDIS_SENTINEL_DEFAULTS.failoverWaitMs,
    });
    expect(REDIS_SENTINEL_DEFAULTS.minReplicas).toBe(1);
  });

  it('takes db, minReplicas, replicaWaitMs and failoverWaitMs from the query', () => {
    const t = parseSentinelUrl('REDIS+SENTINEL://h:1/grp.1?db=3&minReplicas=0&replicaWaitMs=250&failoverWaitMs=9000');
    expect(t).toMatchObject({ name: 'grp.1', db: 3, minReplicas: 0, replicaWaitMs: 250, failoverWaitMs: 9000 });
  });

  it('keeps the other forms: one server as is, cluster seeds', () => {
    expect(parseRedisUrl('redis://h:6380/2')).toEqual({ kind: 'single', url: 'redis://h:6380/2' });
    expect(parseRedisUrl('rediss://h')).toEqual({ kind: 'single', url: 'rediss://h' });
    expect(parseRedisUrl('redis+cluster://a:1,b')).toEqual({ kind: 'cluster', seeds: [{ host: 'a', port: 1 }, { host: 'b', port: 6379 }] });
    for (const u of ['redis://h', 'rediss://h', 'redis+cluster://h', 'redis+sentinel://h/m']) expect(isRedisEngineUrl(u), u).toBe(true);
    for (const u of ['sqlite', 'http://h', 'redis-sentinel://h/m', 'rediss+sentinel://h/m']) expect(isRedisEngineUrl(u), u).toBe(false);
  });

  it('refuses bad sentinel URLs naming the problem and the expected form', () => {
    const cases: [string, RegExp][] = [
      ['redis+sentinel://h:1', /no master name.*redis\+sentinel:\/\/host:port/],
      ['redis+sentinel://h:1/', /needs the master name/],
      ['redis+sentinel:///m', /at least one host:port/],
      ['redis+sentinel://h:0/m', /bad sentinel address "h:0"/],
      ['redis+sentinel://h:70000/m', /bad sentinel address/],
      ['redis+sentinel://h:1,,h2/m', /bad sentinel address ""/],
      ['redis+sentinel://h x:1/m', /bad sentinel address/],
      ['redis+sentinel://h:1/m/extra', /no master name|master name/],
      ['redis+sentinel://h:1/m?db=x', /\?db=x must be a whole number ≥ 0/],
      ['redis+sentinel://h:1/m?minReplicas=-1', /minReplicas=-1 must be a whole number/],
      ['redis+sentinel://h:1/m?replicaWaitMs=0', /replicaWaitMs=0 must be a whole number ≥ 1/],
      ['redis+sentinel://h:1/m?tls=1', /unknown option "tls".*known: db, minReplicas/],
    ];
    for (const [url, re] of cases) expect(message(() => parseRedisUrl(url)), url).toMatch(re);
    expect(message(() => parseRedisUrl('memcached://h'))).toMatch(/not a redis engine URL.*redis\+sentinel:\/\//);
  });

  it('refuses passwords in the URL, pointing at the creds file, and never shows them', () => {
    for (const url of [
      `redis+sentinel://:${SECRET}@h:1/m`,
      `redis+sentinel://user:${SECRET}@h:1,h2:2/m`,
      `redis+sentinel://h:1/m?sentinelPassword=${SECRET}`,
      `redis+sentinel://h:1/m?db=1&password=${SECRET}`,
    ]) {
      expect(urlHasPassword(url), url).toBe(true);
      const msg = message(() => parseRedisUrl(url));
      expect(msg, url).toMatch(/takes no user or password.*redisPassword.*redisSentinelPassword/);
      expect(msg, url).not.toContain(SECRET);
      expect(redactRedisUrl(url), url).not.toContain(SECRET);
    }
    expect(urlHasPassword('redis+sentinel://h:1/m?db=2')).toBe(false);
    expect(redactRedisUrl(`redis+sentinel://u:${SECRET}@h:1/m?db=2&sentinelPassword=${SECRET}`)).toBe('redis+sentinel://…@h:1/m?db=2&sentinelPassword=***');
  });

  it('openEngine names sentinel problems plainly (TLS, misspelt scheme, bad URL)', async () => {
    await expect(openEngine({ engine: 'rediss+sentinel://h:1/m' })).rejects.toThrow(/TLS to Redis Sentinel.*not supported yet/);
    await expect(openEngine({ engine: 'redis-sentinel://h:1/m' })).rejects.toThrow(/write a Redis Sentinel URL as redis\+sentinel:\/\//);
    await expect(openEngine({ engine: 'redis+sentinel://h:1' })).rejects.toThrow(/no master name/);
    const err = await openEngine({ engine: `redis+sentinel://h:1/m?sentinelPassword=${SECRET}` }).catch((e: Error) => e);
    expect(String(err)).toMatch(/no user or password/);
    expect(String(err)).not.toContain(SECRET);
  });
});
