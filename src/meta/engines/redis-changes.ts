import { randomUUID } from 'node:crypto';
import type { BusListener, ChangeBus } from '../engine.js';
import type { Changes } from '../types.js';
import type { Cluster, Redis } from 'ioredis';
import type { RedisClient } from './redis-client.js';

/** One channel for every volume: a server hears all and delivers to its own watching sessions. */
const CHANNEL = 'flexfs:changes';

type Message = [server: string, items: [volumeId: string, origin: string, changes: Partial<Changes>][]];

/**
 * The redis engine's ChangeBus: meta.flexfs servers sharing one Redis (or Cluster) tell each other
 * what their sessions changed over pub/sub. What a server publishes within one loop turn goes out
 * as one message; a server skips its own messages. Pub/sub keeps nothing for a subscriber that was
 * away, so when the subscriber connection comes back after a drop, `lost` tells every watcher that
 * changes may have been missed.
 */
export class RedisChangeBus implements ChangeBus {
  private readonly server = randomUUID();
  private pending: Message[1] = [];
  private sub: RedisClient | undefined;

  constructor(private readonly r: RedisClient) {}

  publish(volumeId: string, origin: string, changes: Partial<Changes>): void {
    if (this.pending.length === 0) setImmediate(() => this.flush());
    this.pending.push([volumeId, origin, changes]);
  }

  private flush(): void {
    const items = this.pending;
    this.pending = [];
    if (items.length === 0) return;
    const msg: Message = [this.server, items];
    // Fire and forget: a lost publish is what the cache timeouts bound (docs/SEMANTICS.md).
    this.r.publish(CHANNEL, JSON.stringify(msg)).catch(() => undefined);
  }

  async subscribe(listener: BusListener, lost: () => void): Promise<void> {
    // a connection of its own: one in subscriber mode can run no other command
    const sub: RedisClient = this.r.isCluster ? (this.r as Cluster).duplicate() : (this.r as Redis).duplicate();
    this.sub = sub;
    let wasReady = false;
    sub.on('error', () => undefined); // reconnects by itself; a failure is reported through `lost`
    sub.on('ready', () => { if (wasReady) lost(); wasReady = true; });
    sub.on('message', (channel: string, text: string) => {
      if (channel !== CHANNEL) return;
      let msg: Message;
      try { msg = JSON.parse(text) as Message; } catch { return lost(); }
      if (!Array.isArray(msg) || msg[0] === this.server || !Array.isArray(msg[1])) return;
      for (const [volumeId, origin, changes] of msg[1]) listener(volumeId, origin, changes);
    });
    await sub.subscribe(CHANNEL);
    wasReady = true;
  }

  async close(): Promise<void> {
    this.flush();
    const sub = this.sub;
    this.sub = undefined;
    await sub?.quit().catch(() => sub.disconnect());
  }
}
