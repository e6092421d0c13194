import { describe, expect, it } from 'vitest';
import type { Caller, InodeFs } from './types.js';
import { squashCaller, withSquash } from './squash.js';

describe('squash (vfs/squash.ts)', () => {
  const root: Caller = { uid: 0, gid: 0, pid: 42, umask: 0o22 };
  const user: Caller = { uid: 1000, gid: 100, pid: 43 };
  const to = { uid: 65534, gid: 65533 };

  it('rootSquash maps uid 0 only; allSquash maps everyone; groups emptied, pid and umask kept', () => {
    const r = squashCaller(root, { rootSquash: to });
    expect([r.uid, r.gid, r.groups, r.pid, r.umask]).toEqual([65534, 65533, [], 42, 0o22]);
    expect(squashCaller(user, { rootSquash: to })).toBe(user);
    const a = squashCaller(user, { allSquash: to });
    expect([a.uid, a.gid, a.groups, a.pid]).toEqual([65534, 65533, [], 43]);
  });

  it('withSquash hands every caller-taking method the squashed caller, runs the rest on the core itself', async () => {
    const seen: Caller[] = [];
    class Core {
      destroyed = false;
      async lookup(_p: number, _n: string, c: Caller) { seen.push(c); return 'l'; }
      async rename(_p: number, _n: string, _np: number, _nn: string, _f: number, c: Caller) { seen.push(c); }
      async destroy() { this.destroyed = true; }
    }
    const core = new Core();
    const fs = withSquash(core as unknown as InodeFs, { allSquash: to }) as unknown as Core;
    expect(await fs.lookup(1, 'x', user)).toBe('l');
    await fs.rename(1, 'a', 1, 'b', 0, root);
    expect(seen.map((c) => c.uid)).toEqual([65534, 65534]);
    await fs.destroy();
    expect(core.destroyed).toBe(true);
    expect(withSquash(core as unknown as InodeFs, {})).toBe(core);
  });
});
