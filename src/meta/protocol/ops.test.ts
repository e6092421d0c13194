import { describe, expect, it } from 'vitest';
import { ctxIndex, META_OPS, type MetaOpName, type MetaOpTable, type OpSpec } from './ops.js';

const spec: OpSpec = { args: ['ctx'], mutating: false };

// Compile-time half of this test (npm run typecheck): the table is keyed by MetaStore's methods.
// @ts-expect-error a table without an entry for some MetaStore method does not compile
export const missing: MetaOpTable = { lookup: spec };
// @ts-expect-error an entry that names no MetaStore method does not compile
export const extra: MetaOpTable = { ...META_OPS, fsync: spec };
// @ts-expect-error settings and close are not wire ops
export const local: MetaOpName = 'close';

describe('META_OPS', () => {
  it('every op carries exactly one context argument', () => {
    for (const [op, s] of Object.entries(META_OPS)) {
      expect(ctxIndex(s), op).toBeGreaterThanOrEqual(0);
      expect(s.args.filter((a) => a === 'ctx'), op).toHaveLength(1);
    }
  });
});
