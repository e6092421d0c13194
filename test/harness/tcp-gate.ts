import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP pass-through in front of a real server (the RGW) that can refuse connections on command:
 * `close()` stops listening and resets every open connection, so clients see ECONNREFUSED/ECONNRESET
 * as in a real outage; `open()` listens again on the same port. Bytes are not touched.
 */
export interface TcpGate {
  readonly port: number;
  /** http://127.0.0.1:PORT, to use as an S3 endpoint. */
  readonly endpoint: string;
  close(): Promise<void>;
  open(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTcpGate(targetPort: number): Promise<TcpGate> {
  const open = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () => new Promise<void>((resolve, reject) => {
    const s = createServer((client) => {
      const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
      for (const sock of [client, upstream]) {
        open.add(sock);
        sock.on('close', () => open.delete(sock));
        sock.on('error', () => { client.destroy(); upstream.destroy(); });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => { s.off('error', reject); server = s; port = (s.address() as { port: number }).port; resolve(); });
  });
  const close = async () => {
    const s = server;
    server = undefined;
    for (const sock of open) sock.resetAndDestroy();
    open.clear();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  };
  await listen();
  return {
    get port() { return port; },
    get endpoint() { return `http://127.0.0.1:${port}`; },
    close,
    open: async () => { if (!server) await listen(); },
    stop: close,
  };
}
