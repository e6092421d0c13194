import { WebSocket } from 'ws';
import { RPC_PATH, unpackFrame } from '../../src/meta/protocol/index.js';

export interface RawSocket {
  ws: WebSocket;
  closed: Promise<{ code: number; reason: string }>;
  /** The next frame the server sends (rejects after 10 s). */
  next(): Promise<unknown>;
}

/** A raw socket speaking the protocol by hand, to send what a real client never would. */
export async function rawSocket(url: string): Promise<RawSocket> {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + RPC_PATH, { rejectUnauthorized: false });
  const queue: unknown[] = [];
  const waiters: Array<(v: unknown) => void> = [];
  ws.on('message', (d) => {
    const v = unpackFrame(d as Buffer);
    const w = waiters.shift();
    if (w) w(v); else queue.push(v);
  });
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
  ws.on('error', () => undefined);
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  return {
    ws, closed,
    next: () => new Promise((resolve, reject) => {
      if (queue.length) return resolve(queue.shift());
      const t = setTimeout(() => reject(new Error('no frame within 10 s')), 10_000);
      waiters.push((v) => { clearTimeout(t); resolve(v); });
    }),
  };
}
