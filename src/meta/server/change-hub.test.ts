import { describe, expect, it } from 'vitest';
import type { ChangesFrame } from '../protocol/index.js';
import { ChangeHub, type ChangeSubscriber } from './change-hub.js';

const turn = () => new Promise((r) => setImmediate(r));

function subscriber(volumeId: string, id: string): ChangeSubscriber & { frames: ChangesFrame[] } {
  const frames: ChangesFrame[] = [];
  return { volumeId, id, frames, sendChanges: (f) => frames.push(f) };
}

describe('ChangeHub', () => {
  it('sends a session\'s changes to the other watching sessions of its volume only, one frame per loop turn', async () => {
    const sent: ChangesFrame[] = [];
    const hub = new ChangeHub((f) => sent.push(f));
    const [a, b, c] = [subscriber('v1', 'a'), subscriber('v1', 'b'), subscriber('v2', 'c')];
    for (const s of [a, b, c]) hub.add(s);
    hub.publish('v1', 'a', { e: [[1, 'x']], a: [1] });
    hub.publish('v1', 'a', { a: [1, 5], d: [5] });
    expect(b.frames).toEqual([]); // batched until the loop turns
    await turn();
    expect(a.frames).toEqual([]);
    expect(c.frames).toEqual([]);
    expect(b.frames).toEqual([{ t: 'changes', e: [[1, 'x']], a: [1, 5], d: [5] }]);
    expect(sent).toHaveLength(1);
    hub.remove(b);
    hub.publish('v1', 'a', { a: [2] });
    await turn();
    expect(b.frames).toHaveLength(1);
  });

  it('a session with too much queued is told that everything may be stale', async () => {
    const hub = new ChangeHub();
    const b = subscriber('v', 'b');
    hub.add(b);
    for (let i = 1; i <= 10_001; i++) hub.publish('v', 'a', { a: [i] });
    await turn();
    expect(b.frames).toEqual([{ t: 'changes', all: true }]);
  });
});
