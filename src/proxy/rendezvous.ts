import { createHash } from 'node:crypto';

/**
 * Rendezvous (highest-random-weight) hashing: every node gets a score per key and the key goes to
 * the highest score. Removing a node moves only that node's keys, and the order of the rest is the
 * failover order, so every client picks the same proxy and the same fallback for a key.
 */
export function rendezvousOrder<T extends string>(nodes: readonly T[], key: string): T[] {
  return nodes
    .map((node) => ({ node, score: createHash('sha256').update(node).update('\0').update(key).digest().readBigUInt64BE(0) }))
    .sort((a, b) => (a.score > b.score ? -1 : a.score < b.score ? 1 : a.node < b.node ? -1 : 1))
    .map((x) => x.node);
}
