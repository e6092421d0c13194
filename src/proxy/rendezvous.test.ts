import { describe, expect, it } from 'vitest';
import { rendezvousOrder } from './rendezvous.js';

describe('rendezvousOrder', () => {
  it('is stable, spreads keys, and only moves the keys of a removed node', () => {
    const nodes = ['p1:1', 'p2:1', 'p3:1'];
    const counts: Record<string, number> = {};
    let moved = 0;
    for (let i = 0; i < 3000; i++) {
      const key = `vol/blocks/00/1_${i}_${i}`;
      const order = rendezvousOrder(nodes, key);
      expect(rendezvousOrder([...nodes].reverse(), key)).toEqual(order);
      counts[order[0]] = (counts[order[0]] ?? 0) + 1;
      const without = rendezvousOrder(['p1:1', 'p3:1'], key);
      if (order[0] !== 'p2:1' && without[0] !== order[0]) moved++;
      if (order[0] === 'p2:1') expect(without[0]).toBe(order[1]); // failover order = next in line
    }
    expect(moved).toBe(0);
    for (const n of nodes) expect(counts[n]).toBeGreaterThan(800);
  });
});
