/**
 * The shared metadata rules. core/store.ts (CoreMetaStore) implements every MetaStore operation
 * once (the rules by job in core/namespace.ts, attrs.ts, xattrs.ts, holds.ts, data.ts, lookup.ts),
 * against the small transaction interface in core/tx.ts; the engines (engines/sqlite.ts,
 * engines/redis.ts) only make one such transaction atomic. Why: the rules (names, errnos, sticky
 * bit, setgid, nlink, times, holds, gc queueing, op-id dedupe) must not drift between engines,
 * and writing them in Lua as well as TypeScript would duplicate them. Redis therefore runs the
 * TypeScript optimistically and a single generic Lua script validates the reads and applies the
 * writes (see engines/redis-lua.ts).
 */
export { CoreMetaStore, LOCAL_SESSION } from './core/store.js';
export type { MetaTx, TxRunner, InodeRec, VolumeInfo, CounterName } from './core/tx.js';
export { checkName, nowNs, toAttr } from './core/rules.js';
export { checkNamespaceSnapshot, buildVolume } from './core/admin.js';
