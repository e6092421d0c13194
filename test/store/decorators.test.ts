import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tempDir } from '../harness/ports.js';
import { FileObjectStore } from '../../src/store/file.js';
import { StoreError, withFaults, withPrefix, withRetry, type ObjectStore } from '../../src/store/index.js';
import { Semaphore } from '../../src/store/semaphore.js';

let dir: { path: string; cleanup: () => Promise<void> };
let base: ObjectStore;
beforeAll(async () => {
  dir = await tempDir('flexfs-store-dec-');
  base = new FileObjectStore(join(dir.path, 'blocks'));
});
afterAll(async () => { await dir?.cleanup(); });

const fastRetry = { baseDelayMs: 1, maxDelayMs: 20, maxAttempts: 20, attemptTimeoutMs: 5_000, deadlineMs: 20_000 };

describe('withFaults + withRetry', () => {
  it('with a 30% error rate every operation still succeeds and data is intact', async () => {
    const faulty = withFaults(withPrefix(base, 'faults'), { errorRate: 0.3, errorAfterRate: 0.3 });
    let retries = 0;
    const store = withRetry(faulty, { ...fastRetry, onRetry: () => { retries++; } });
    const bodies = Array.from({ length: 40 }, () => randomBytes(2048));
    await Promise.all(bodies.map((b, i) => store.put(`k/${i}`, b)));
    for (let i = 0; i < bodies.length; i++) {
      expect((await store.get(`k/${i}`)).equals(bodies[i])).toBe(true);
      expect((await store.head(`k/${i}`))!.size).toBe(2048);
    }
    const keys: string[] = [];
    let after: string | undefined;
    do {
      const page = await store.list('k/', { after, limit: 7 });
      keys.push(...page.objects.map((o) => o.key));
      after = page.next;
    } while (after);
    expect(keys.length).toBe(40);
    await Promise.all(bodies.map((_, i) => store.delete(`k/${i}`)));
    expect(await store.head('k/0')).toBeNull();
    expect(faulty.counts.errors).toBeGreaterThan(10);
    expect(retries).toBe(faulty.counts.errors);
  });

  it('a hang becomes Timeout at the deadline', async () => {
    const faulty = withFaults(base, { hangRate: 1 });
    const store = withRetry(faulty, { baseDelayMs: 1, maxDelayMs: 10, maxAttempts: 100, attemptTimeoutMs: 150, deadlineMs: 600 });
    const t0 = Date.now();
    const e = await store.get('anything').catch((err: unknown) => err);
    const elapsed = Date.now() - t0;
    expect(e).toBeInstanceOf(StoreError);
    expect((e as StoreError).kind).toBe('Timeout');
    expect((e as StoreError).message).toMatch(/gave up after \d+ attempts/);
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(3_000);
    expect(faulty.counts.hangs).toBeGreaterThanOrEqual(3);
  });

  it('a hang that ignores its signal still cannot outlive the deadline', async () => {
    const deaf: ObjectStore = { ...base, description: 'deaf', get: () => new Promise<Buffer>(() => {}) };
    const store = withRetry(deaf, { maxAttempts: 2, attemptTimeoutMs: 100, deadlineMs: 1_000, baseDelayMs: 1 });
    await expect(store.get('x')).rejects.toMatchObject({ kind: 'Timeout' });
  });

  it('the caller aborting gives Aborted at once, without retries', async () => {
    const faulty = withFaults(base, { hangRate: 1 });
    const store = withRetry(faulty, { attemptTimeoutMs: 10_000, deadlineMs: 30_000 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const t0 = Date.now();
    await expect(store.get('x', { signal: ac.signal })).rejects.toMatchObject({ kind: 'Aborted' });
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(faulty.counts.calls).toBe(1);
  });

  it('does not retry errors that are not retryable', async () => {
    const faulty = withFaults(base, { errorRate: 1, errorKind: 'AccessDenied' });
    const store = withRetry(faulty, fastRetry);
    await expect(store.put('x', Buffer.from('1'))).rejects.toMatchObject({ kind: 'AccessDenied' });
    expect(faulty.counts.calls).toBe(1);
    await expect(store.get('never')).rejects.toMatchObject({ kind: 'AccessDenied' });
    faulty.faults = {};
    await expect(store.get('never')).rejects.toMatchObject({ kind: 'NotFound' });
    expect(faulty.counts.calls).toBe(3);
  });

  it('gives up after maxAttempts with the last kind', async () => {
    const faulty = withFaults(base, { errorRate: 1, errorKind: 'Throttled' });
    const store = withRetry(faulty, { ...fastRetry, maxAttempts: 4 });
    await expect(store.head('x')).rejects.toMatchObject({ kind: 'Throttled', message: expect.stringMatching(/after 4 attempts/) });
    expect(faulty.counts.calls).toBe(4);
  });

  it('adds latency', async () => {
    const store = withFaults(base, { latencyMs: [80, 120] });
    const t0 = Date.now();
    expect(await store.head('nothing')).toBeNull();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(75);
  });
});

describe('withPrefix', () => {
  it('maps keys under the prefix and strips it from listings', async () => {
    const store = withPrefix(base, '/pfx/inner/');
    await store.put('a/1', Buffer.from('1'));
    expect(await base.head('pfx/inner/a/1')).toMatchObject({ size: 1 });
    expect(await store.head('a/1')).toMatchObject({ key: 'a/1', size: 1 });
    expect((await store.list('a/')).objects.map((o) => o.key)).toEqual(['a/1']);
    expect(() => withPrefix(base, 'a/../b')).toThrow(/invalid key prefix/);
    expect(withPrefix(base, '')).toBe(base);
  });
});

describe('Semaphore', () => {
  it('bounds concurrency and serves waiters in order', async () => {
    const sem = new Semaphore(3);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(Array.from({ length: 12 }, async (_, i) => {
      const release = await sem.acquire();
      active++;
      peak = Math.max(peak, active);
      order.push(i);
      await new Promise((r) => setTimeout(r, 5));
      active--;
      release();
    }));
    expect(peak).toBe(3);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(sem.inUse).toBe(0);
  });
  it('a waiter whose signal fires leaves the queue', async () => {
    const sem = new Semaphore(1);
    const release = await sem.acquire();
    const ac = new AbortController();
    const waiting = sem.acquire(ac.signal);
    ac.abort(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    release();
    const again = await sem.acquire();
    expect(sem.inUse).toBe(1);
    again();
  });
});

describe('withMetrics', () => {
  it('counts operations by outcome, bytes and latency', async () => {
    const { Registry } = await import('prom-client');
    const { withMetrics } = await import('../../src/store/index.js');
    const registry = new Registry();
    const store = withMetrics(withPrefix(base, 'metrics'), { registry, store: 'test' });
    const again = withMetrics(base, { registry, store: 'other' }); // same registry: no double registration
    await store.put('m/1', Buffer.alloc(100));
    await store.get('m/1');
    await store.get('m/missing').catch(() => undefined);
    await again.head('x');
    const text = await registry.metrics();
    expect(text).toContain('flexfs_store_requests_total{store="test",op="put",outcome="ok"} 1');
    expect(text).toContain('flexfs_store_requests_total{store="test",op="get",outcome="NotFound"} 1');
    expect(text).toContain('flexfs_store_bytes_total{store="test",op="put"} 100');
    expect(text).toContain('flexfs_store_bytes_total{store="test",op="get"} 100');
    expect(text).toContain('flexfs_store_requests_total{store="other",op="head",outcome="ok"} 1');
    expect(text).toMatch(/flexfs_store_request_seconds_count\{store="test",op="get"\} 2/);
  });
});
