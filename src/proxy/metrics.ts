import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one proxy server, on its own registry (served at GET /metrics). */
export interface ProxyMetrics {
  registry: Registry;
  hits: Counter;
  misses: Counter;
  bytesServed: Counter;
  bytesReceived: Counter;
  upstreamBytes: Counter<'op'>;
  upstreamSeconds: Histogram<'op'>;
  upstreamErrors: Counter<'op'>;
  evictions: Counter;
  verifyFailures: Counter<'source'>;
  sseNotApplied: Counter;
  requests: Counter<'method' | 'status'>;
  connectionsRefused: Counter<'reason'>;
  getsRefused: Counter;
  putsRefused: Counter;
  cacheBytes: Gauge;
  cacheObjects: Gauge;
  cacheQuota: Gauge;
}

/** What the GET limits report (GetLimits). */
export interface GetLimitStats {
  upstreamInFlight: number;
  upstreamPeak: number;
  getsInFlight: number;
  getsQueued: number;
}

/** What the PUT admission reports (Admission). */
export interface PutLimitStats {
  inFlight: number;
  queued: number;
  peak: number;
}

export function createProxyMetrics(cacheStats: () => { bytes: number; count: number; quota: number }, withDefaults = true,
  gets?: GetLimitStats, puts?: PutLimitStats): ProxyMetrics {
  const registry = new Registry();
  if (withDefaults) collectDefaultMetrics({ register: registry, prefix: 'flexfs_proxy_' });
  const registers = [registry];
  const m: ProxyMetrics = {
    registry,
    hits: new Counter({ name: 'flexfs_proxy_cache_hits_total', help: 'GETs answered from the disk cache', registers }),
    misses: new Counter({ name: 'flexfs_proxy_cache_misses_total', help: 'GETs not in the disk cache (joined or started an upstream fetch)', registers }),
    bytesServed: new Counter({ name: 'flexfs_proxy_bytes_served_total', help: 'Body bytes sent to clients by GET', registers }),
    bytesReceived: new Counter({ name: 'flexfs_proxy_bytes_received_total', help: 'Body bytes of client PUTs written through to the bucket', registers }),
    upstreamBytes: new Counter({ name: 'flexfs_proxy_upstream_bytes_total', help: 'Bytes fetched from (get) and stored to (put) the bucket', labelNames: ['op'], registers }),
    upstreamSeconds: new Histogram({
      name: 'flexfs_proxy_upstream_seconds', help: 'Latency of requests to the bucket', labelNames: ['op'], registers,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    }),
    upstreamErrors: new Counter({ name: 'flexfs_proxy_upstream_errors_total', help: 'Failed requests to the bucket (not counting not-found)', labelNames: ['op'], registers }),
    evictions: new Counter({ name: 'flexfs_proxy_cache_evictions_total', help: 'Objects evicted from the disk cache to keep the quota', registers }),
    verifyFailures: new Counter({ name: 'flexfs_proxy_verify_failures_total', help: 'Frames that failed verification, by where they came from (cache, upstream, client)', labelNames: ['source'], registers }),
    sseNotApplied: new Counter({ name: 'flexfs_proxy_sse_not_applied_total', help: 'PUTs that asked for SSE and were stored without it (no x-amz-server-side-encryption in the answer)', registers }),
    requests: new Counter({ name: 'flexfs_proxy_requests_total', help: 'HTTP requests by method and status', labelNames: ['method', 'status'], registers }),
    connectionsRefused: new Counter({
      name: 'flexfs_proxy_connections_refused_total', labelNames: ['reason'], registers,
      help: 'TCP connections closed before serving: over --maxConnections, or no TLS handshake within 5 s',
    }),
    getsRefused: new Counter({ name: 'flexfs_proxy_gets_refused_total', help: 'GETs answered 503 because --maxGets were in flight and --maxQueuedGets waiting', registers }),
    putsRefused: new Counter({ name: 'flexfs_proxy_puts_refused_total', help: 'PUTs answered 503 because --maxPuts were in flight and --maxQueuedPuts waiting', registers }),
    cacheBytes: new Gauge({ name: 'flexfs_proxy_cache_bytes', help: 'Bytes held in the disk cache', registers, collect() { this.set(cacheStats().bytes); } }),
    cacheObjects: new Gauge({ name: 'flexfs_proxy_cache_objects', help: 'Objects held in the disk cache', registers, collect() { this.set(cacheStats().count); } }),
    cacheQuota: new Gauge({ name: 'flexfs_proxy_cache_quota_bytes', help: 'Disk cache quota in bytes', registers, collect() { this.set(cacheStats().quota); } }),
  };
  const gauge = (name: string, help: string, read: () => number) => new Gauge({ name, help, registers, collect() { this.set(read()); } });
  if (gets) {
    gauge('flexfs_proxy_upstream_fetches_in_flight', 'Bucket GETs running now (at most --maxFetches)', () => gets.upstreamInFlight);
    gauge('flexfs_proxy_upstream_fetches_peak', 'Most bucket GETs ever running at once since start', () => gets.upstreamPeak);
    gauge('flexfs_proxy_gets_in_flight', 'Client GETs holding a frame now (at most --maxGets)', () => gets.getsInFlight);
    gauge('flexfs_proxy_gets_queued', 'Client GETs waiting for a slot (at most --maxQueuedGets)', () => gets.getsQueued);
  }
  if (puts) {
    gauge('flexfs_proxy_puts_in_flight', 'Client PUTs holding their body now (at most --maxPuts)', () => puts.inFlight);
    gauge('flexfs_proxy_puts_peak', 'Most client PUTs ever holding their body at once since start', () => puts.peak);
    gauge('flexfs_proxy_puts_queued', 'Client PUTs waiting for a slot, body unread (at most --maxQueuedPuts)', () => puts.queued);
  }
  return m;
}
