import { Counter, Histogram, type Registry } from 'prom-client';
import { toErrnoName } from '../errors/index.js';

/**
 * Per-operation metrics for a mount: a decorator of the core (any object with async ops) that times every call and counts
 * failures by errno, plus bytes read and written. Only used when the mount's Prometheus endpoint
 * is on (--metricsPort), so a plain mount pays nothing. The cost per call is one hrtime pair and
 * one histogram observation.
 */
export interface OpMetrics<T extends object> {
  /** The instrumented file system to mount instead of the plain one. */
  fs: T;
  register(registry: Registry): void;
}

const OPS_WITH_BYTES = new Set(['read', 'write']);

export function instrumentOps<T extends object>(inner: T): OpMetrics<T> {
  const latency = new Histogram({
    name: 'flexfs_mount_op_seconds', help: 'latency of file system operations as the kernel sees them', labelNames: ['op'],
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30], registers: [],
  });
  const errors = new Counter({ name: 'flexfs_mount_op_errors_total', help: 'failed operations by errno', labelNames: ['op', 'errno'], registers: [] });
  const bytes = new Counter({ name: 'flexfs_mount_bytes_total', help: 'bytes read from or written to files through the mount', labelNames: ['direction'], registers: [] });

  const fs = Object.create(inner) as T;
  for (const op of Object.getOwnPropertyNames(Object.getPrototypeOf(inner)).concat(Object.keys(inner))) {
    const fn = (inner as unknown as Record<string, unknown>)[op];
    if (op === 'constructor' || typeof fn !== 'function') continue;
    const timer = latency.labels(op);
    (fs as unknown as Record<string, unknown>)[op] = (...args: unknown[]) => {
      const start = process.hrtime.bigint();
      const out = (fn as (...a: unknown[]) => unknown).apply(inner, args);
      if (!(out instanceof Promise)) return out; // not an operation (e.g. watchOthers)
      return out.then((result) => {
        timer.observe(Number(process.hrtime.bigint() - start) / 1e9);
        if (OPS_WITH_BYTES.has(op) && typeof result === 'number') bytes.inc({ direction: op === 'read' ? 'read' : 'written' }, result);
        return result;
      }, (e: unknown) => {
        timer.observe(Number(process.hrtime.bigint() - start) / 1e9);
        errors.inc({ op, errno: String(toErrnoName(e)) });
        throw e;
      });
    };
  }
  return {
    fs,
    register(registry) {
      registry.registerMetric(latency);
      registry.registerMetric(errors);
      registry.registerMetric(bytes);
    },
  };
}

/** Operations served so far by kind, and bytes read and written (what `flexfs stats` shows). */
export interface OpCounts {
  ops: Record<string, number>;
  bytesRead: number;
  bytesWritten: number;
}

/**
 * An always-on counting decorator of the core: one counter increment per operation (no clock),
 * so every mount can answer `flexfs stats`. `instrumentOps` (timings) goes on top with --metricsPort.
 */
export function countOps<T extends object>(inner: T): { fs: T; counts: OpCounts } {
  const counts: OpCounts = { ops: {}, bytesRead: 0, bytesWritten: 0 };
  const fs = Object.create(inner) as T;
  for (const op of Object.getOwnPropertyNames(Object.getPrototypeOf(inner)).concat(Object.keys(inner))) {
    const fn = (inner as unknown as Record<string, unknown>)[op];
    if (op === 'constructor' || typeof fn !== 'function') continue;
    (fs as unknown as Record<string, unknown>)[op] = (...args: unknown[]) => {
      const out = (fn as (...a: unknown[]) => unknown).apply(inner, args);
      if (!(out instanceof Promise)) return out; // not an operation (e.g. watchOthers)
      counts.ops[op] = (counts.ops[op] ?? 0) + 1;
      if (op !== 'read' && op !== 'write') return out;
      return out.then((result: unknown) => {
        if (op === 'write' && typeof result === 'number') counts.bytesWritten += result;
        else if (op === 'read' && result instanceof Uint8Array) counts.bytesRead += result.byteLength;
        return result;
      });
    };
  }
  return { fs, counts };
}
