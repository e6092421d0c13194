/**
 * Probes of a TLS listener's limits, as a hostile or idle peer would behave: a raw TCP socket
 * that never starts TLS, and TLS connections held open without sending a request.
 */
import net from 'node:net';
import tls from 'node:tls';

/** Connect raw TCP, send nothing; resolves with ms until the server closed it, rejects after `deadlineMs`. */
export function silentTcpClosedAfter(port: number, deadlineMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`server kept a silent TCP connection open for ${deadlineMs} ms`)); }, deadlineMs);
    socket.on('close', () => { clearTimeout(timer); resolve(Date.now() - started); });
  });
}

/**
 * Open a TLS connection and hold it without a request: 'held' when the handshake finished (the
 * socket stays open until release), 'refused' when the server closed it before that.
 */
export function holdTls(port: number): Promise<{ outcome: 'held' | 'refused'; release(): void }> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    const release = () => socket.destroy();
    socket.once('secureConnect', () => resolve({ outcome: 'held', release }));
    socket.on('error', () => undefined);
    socket.once('close', () => resolve({ outcome: 'refused', release }));
  });
}
