import { Counter, Histogram, register as defaultRegistry, type Registry } from 'prom-client';
import { StoreError, type ObjectStore } from './types.js';

/**
 * Metrics decorator (Prometheus, prom-client): per operation a request counter by outcome (ok or
 * the StoreError kind), a latency histogram, and bytes moved. Put it outside withRetry to count
 * what callers see, inside to count every attempt. `store` labels the series (e.g. "bucket").
 */
export function withMetrics(inner: ObjectStore, opts: { registry?: Registry; store?: string } = {}): ObjectStore {
  const registry = opts.registry ?? defaultRegistry;
  const label = opts.store ?? 'default';
  const requests = metric(registry, 'flexfs_store_requests_total', () => new Counter({
    name: 'flexfs_store_requests_total', help: 'Object store operations by outcome',
    labelNames: ['store', 'op', 'outcome'], registers: [registry],
  }));
  const seconds = metric(registry, 'flexfs_store_request_seconds', () => new Histogram({
    name: 'flexfs_store_request_seconds', help: 'Object store operation latency',
    labelNames: ['store', 'op'], buckets: [0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry],
  }));
  const bytes = metric(registry, 'flexfs_store_bytes_total', () => new Counter({
    name: 'flexfs_store_bytes_total', help: 'Object bytes sent (put) and received (get)',
    labelNames: ['store', 'op'], registers: [registry],
  }));

  async function timed<T>(op: string, fn: () => Promise<T>, size?: (v: T) => number): Promise<T> {
    const end = seconds.startTimer({ store: label, op });
    try {
      const v = await fn();
      requests.inc({ store: label, op, outcome: 'ok' });
      if (size) bytes.inc({ store: label, op }, size(v));
      return v;
    } catch (e) {
      requests.inc({ store: label, op, outcome: e instanceof StoreError ? e.kind : 'Other' });
      throw e;
    } finally {
      end();
    }
  }
  return {
    description: inner.description,
    put: (key, body, o) => timed('put', () => inner.put(key, body, o), () => body.length),
    get: (key, o) => timed('get', () => inner.get(key, o), (b) => b.length),
    head: (key, o) => timed('head', () => inner.head(key, o)),
    delete: (key, o) => timed('delete', () => inner.delete(key, o)),
    list: (prefix, o) => timed('list', () => inner.list(prefix, o)),
    close: () => inner.close(),
  };
}

/** One metric object per registry and name (decorating several stores must not re-register). */
function metric<M>(registry: Registry, name: string, make: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? make();
}
