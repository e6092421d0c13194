import type { Server } from 'node:net';
import { LISTENER_DEFAULTS, TIMEOUTS } from '../config/defaults.js';

/**
 * Limits every flexfs TLS listener (meta.flexfs, proxy.flexfs) applies, so idle or hostile TCP
 * peers cannot hold sockets: a peer must finish the TLS handshake within a few seconds (Node's
 * default is 120 s), and beyond a cap new connections are closed at accept.
 */
export const TLS_HANDSHAKE_TIMEOUT_MS = TIMEOUTS.tlsHandshakeMs;
export const DEFAULT_MAX_CONNECTIONS = LISTENER_DEFAULTS.maxConnections;

/** `--maxConnections` value: a positive integer, or an error naming the flag and the fix. */
export function parseMaxConnections(value: string | number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_CONNECTIONS;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--maxConnections "${value}": expected a whole number ≥ 1 (default ${DEFAULT_MAX_CONNECTIONS})`);
  return n;
}

/**
 * Cap concurrent connections on `server` (net's maxConnections: extra ones are destroyed at
 * accept) and count what is dropped or times out in the handshake.
 */
export function limitConnections(server: Server, max: number, on: { dropped(): void; handshakeTimeout(): void }): void {
  server.maxConnections = max;
  server.on('drop', () => on.dropped());
  server.on('tlsClientError', (err: NodeJS.ErrnoException) => {
    if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') on.handshakeTimeout();
  });
}
