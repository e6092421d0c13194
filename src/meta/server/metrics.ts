import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one server instance (own registry, so tests can run several). */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'flexfs_meta_requests_total', help: 'RPC requests by op and result (ok or errno name)',
    labelNames: ['op', 'result'] as const, registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'flexfs_meta_request_seconds', help: 'RPC request latency by op',
    labelNames: ['op'] as const, registers: [this.registry],
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
  });
  readonly sessions = new Gauge({
    name: 'flexfs_meta_connected_sessions', help: 'WebSocket sessions currently connected',
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'flexfs_meta_errors_total',
    help: 'Errors by kind: protocol (malformed, oversized, unknown op), auth, engine',
    labelNames: ['kind'] as const, registers: [this.registry],
  });
  readonly expired = new Counter({
    name: 'flexfs_meta_sessions_expired_total', help: 'Sessions expired for missing heartbeats',
    registers: [this.registry],
  });
  readonly connectionsRefused = new Counter({
    name: 'flexfs_meta_connections_refused_total',
    help: 'TCP connections closed before serving: over --maxConnections, or no TLS handshake within 5 s',
    labelNames: ['reason'] as const, registers: [this.registry],
  });
  readonly changesSent = new Counter({
    name: 'flexfs_meta_changes_sent_total',
    help: 'Coherent caching: changes frames pushed to watching sessions, the items in them, and "all" resets',
    labelNames: ['what'] as const, registers: [this.registry],
  });
  readonly rest = new Counter({
    name: 'flexfs_meta_rest_requests_total', help: 'REST requests by route and status',
    labelNames: ['route', 'status'] as const, registers: [this.registry],
  });

  constructor(defaultMetrics = false) {
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'flexfs_meta_' });
  }
}
