import type { BlockRef } from '../types.js';
import type { CounterName, HistoryKind, HistoryRecord, IdCounters, InodeRec, LinkParents, MetaTx, QuotaRec, TxRunner } from '../core/tx.js';
import { historyCodec as codec } from './codec.js';
import { HISTORY_DEFAULTS } from '../../config/defaults.js';

/**
 * A MetaTx that records history (docs/METADATA.md "History"): on the FIRST write of each inode,
 * entry, slot or xattr in the transaction it reads that key's value through the transaction
 * (so, on redis, the read joins the optimistic read set and is validated with the rest) and at
 * the end hands the before-values to the engine in one `putHistory`. Holds, locks, op ids,
 * counters, the gc queue, link parents and quota records are not history.
 *
 * Writes are sync in MetaTx and reads async, so a before-value cannot be read "just before" a
 * write: writes are queued on a promise chain instead, each step reading what it needs and then
 * applying the write; every read waits for the chain, so the transaction still sees its own
 * writes in order.
 *
 * A new MetaTx primitive belongs here too (a passthrough queued with the writes, unless it changes
 * one of the four kinds of records above) and in as-of-tx.ts (reads answered for the past, writes
 * EROFS): deliberately no catch-all forwarding, which would let a new write skip the history.
 */
export class RecordingTx implements MetaTx {
  private chain: Promise<void> = Promise.resolve();
  private readonly seen = new Set<string>();
  /** Values the transaction read before writing them: their before-values, without a second read. */
  private readonly known = new Map<string, string | null>();
  /** Inodes whose whole block map the transaction read: a slot missing from it did not exist. */
  private readonly slotsListed = new Set<number>();
  private readonly records: HistoryRecord[] = [];

  constructor(private readonly tx: MetaTx) {}

  /** Queue a write; `before` reads (through the tx) what the history must keep, first. */
  private later(step: () => Promise<void> | void): void {
    this.chain = this.chain.then(step);
    // A failed write surfaces at the next read or at finish(); never as an unhandled rejection.
    this.chain.catch(() => undefined);
  }
  private static id(kind: HistoryKind, k1: number, k2: string): string { return `${kind}\u0000${k1}\u0000${k2}`; }
  private first(kind: HistoryKind, k1: number, k2: string): boolean {
    const key = RecordingTx.id(kind, k1, k2);
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    return true;
  }
  /** A read of a key not written yet in this transaction: what it saw is the key's before-value. */
  private saw(kind: HistoryKind, k1: number, k2: string, encoded: string | null): void {
    const key = RecordingTx.id(kind, k1, k2);
    if (!this.seen.has(key) && !this.known.has(key)) this.known.set(key, encoded);
  }
  private async record(kind: HistoryKind, k1: number, k2: string, read: () => Promise<string | null>): Promise<void> {
    if (!this.first(kind, k1, k2)) return;
    const key = RecordingTx.id(kind, k1, k2);
    const before = this.known.has(key) ? this.known.get(key)! : await read();
    this.records.push({ kind, k1, k2, before });
  }
  private recordInode(ino: number): Promise<void> {
    return this.record('inode', ino, '', async () => {
      const r = await this.tx.getInode(ino);
      return r ? codec.inode.enc(r) : null;
    });
  }
  private recordEntry(parent: number, name: string): Promise<void> {
    return this.record('entry', parent, name, async () => {
      const ino = await this.tx.getEntry(parent, name);
      return ino === null ? null : codec.entry.enc(ino);
    });
  }
  private recordSlot(ino: number, index: number): Promise<void> {
    return this.record('slot', ino, String(index), async () => {
      if (this.slotsListed.has(ino)) return null;
      const r = (await this.tx.getSlotRange(ino, index, 1))[0];
      return r ? codec.slot.enc(r) : null;
    });
  }
  private recordXattr(ino: number, name: string): Promise<void> {
    return this.record('xattr', ino, name, async () => {
      const v = await this.tx.getXattr(ino, name);
      return v === null ? null : codec.xattr.enc(v);
    });
  }
  private sawSlots(ino: number, from: number, count: number, slots: BlockRef[]): void {
    if (count > HISTORY_DEFAULTS.knownHoleRange) { for (const r of slots) this.saw('slot', ino, String(r.index), codec.slot.enc(r)); return; }
    const byIndex = new Map(slots.map((r) => [r.index, r]));
    for (let i = from; i < from + count; i++) {
      const r = byIndex.get(i);
      this.saw('slot', ino, String(i), r ? codec.slot.enc(r) : null);
    }
  }

  /** Apply the queued writes and hand the undo records to the engine. Call once, at the end. */
  async finish(): Promise<void> {
    await this.chain;
    if (this.records.length > 0) this.tx.putHistory(Date.now(), this.records);
  }

  private async read<T>(fn: () => Promise<T>): Promise<T> {
    await this.chain;
    return fn();
  }

  async getInode(ino: number) {
    const r = await this.read(() => this.tx.getInode(ino));
    this.saw('inode', ino, '', r ? codec.inode.enc(r) : null);
    return r;
  }
  async getInodes(inos: number[]) {
    const rs = await this.read(() => this.tx.getInodes(inos));
    rs.forEach((r, i) => this.saw('inode', inos[i], '', r ? codec.inode.enc(r) : null));
    return rs;
  }
  putInode(rec: InodeRec): void {
    const copy = { ...rec };
    this.later(async () => { await this.recordInode(copy.ino); this.tx.putInode(copy); });
  }
  delInode(ino: number): void {
    this.later(async () => {
      await this.recordInode(ino);
      for (const s of await this.tx.getSlots(ino)) {
        this.saw('slot', ino, String(s.index), codec.slot.enc(s));
        await this.recordSlot(ino, s.index);
      }
      for (const name of await this.tx.listXattrs(ino)) await this.recordXattr(ino, name);
      for (let after: string | undefined; ;) {
        const page = await this.tx.listEntries(ino, after, HISTORY_DEFAULTS.entryPage);
        for (const e of page) await this.recordEntry(ino, e.name);
        if (page.length < HISTORY_DEFAULTS.entryPage) break;
        after = page[page.length - 1].name;
      }
      this.tx.delInode(ino);
    });
  }

  async getEntry(parent: number, name: string) {
    const ino = await this.read(() => this.tx.getEntry(parent, name));
    this.saw('entry', parent, name, ino === null ? null : codec.entry.enc(ino));
    return ino;
  }
  putEntry(parent: number, name: string, ino: number): void {
    this.later(async () => { await this.recordEntry(parent, name); this.tx.putEntry(parent, name, ino); });
  }
  delEntry(parent: number, name: string): void {
    this.later(async () => { await this.recordEntry(parent, name); this.tx.delEntry(parent, name); });
  }
  dirEmpty(dir: number) { return this.read(() => this.tx.dirEmpty(dir)); }
  listEntries(dir: number, after: string | undefined, limit: number) { return this.read(() => this.tx.listEntries(dir, after, limit)); }

  async getXattr(ino: number, name: string) {
    const v = await this.read(() => this.tx.getXattr(ino, name));
    this.saw('xattr', ino, name, v === null ? null : codec.xattr.enc(v));
    return v;
  }
  setXattr(ino: number, name: string, value: Buffer): void {
    this.later(async () => { await this.recordXattr(ino, name); this.tx.setXattr(ino, name, value); });
  }
  delXattr(ino: number, name: string): void {
    this.later(async () => { await this.recordXattr(ino, name); this.tx.delXattr(ino, name); });
  }
  listXattrs(ino: number) { return this.read(() => this.tx.listXattrs(ino)); }

  async getSlots(ino: number) {
    const slots = await this.read(() => this.tx.getSlots(ino));
    for (const r of slots) this.saw('slot', ino, String(r.index), codec.slot.enc(r));
    this.slotsListed.add(ino);
    return slots;
  }
  async getSlotRange(ino: number, from: number, count: number) {
    const slots = await this.read(() => this.tx.getSlotRange(ino, from, count));
    this.sawSlots(ino, from, count, slots);
    return slots;
  }
  putSlot(ino: number, ref: BlockRef): void {
    const copy = { ...ref };
    this.later(async () => { await this.recordSlot(ino, copy.index); this.tx.putSlot(ino, copy); });
  }
  delSlot(ino: number, index: number): void {
    this.later(async () => { await this.recordSlot(ino, index); this.tx.delSlot(ino, index); });
  }

  // Not history: passed through (writes still in order with the others).
  holdCount(ino: number) { return this.read(() => this.tx.holdCount(ino)); }
  sessionHolds(ino: number, session: string) { return this.read(() => this.tx.sessionHolds(ino, session)); }
  addHold(ino: number, session: string, delta: number): void { this.later(() => this.tx.addHold(ino, session, delta)); }
  getLocks(key: number) { return this.read(() => this.tx.getLocks(key)); }
  putLocks(key: number, value: string | null): void { this.later(() => this.tx.putLocks(key, value)); }
  allocIno() { return this.read(() => this.tx.allocIno()); }
  allocBlockIds(count: number) { return this.read(() => this.tx.allocBlockIds(count)); }
  addCounter(name: CounterName, delta: number): void { this.later(() => this.tx.addCounter(name, delta)); }
  getCounter(name: CounterName) { return this.read(() => this.tx.getCounter(name)); }
  getIdCounters(): Promise<IdCounters> { return this.read(() => this.tx.getIdCounters()); }
  setIdCounters(c: IdCounters): void { this.later(() => this.tx.setIdCounters(c)); }
  gcPush(ino: number, index: number, blockId: number, queuedAt: number): void {
    this.later(() => this.tx.gcPush(ino, index, blockId, queuedAt));
  }
  getLinkParents(ino: number) { return this.read(() => this.tx.getLinkParents(ino)); }
  putLinkParents(ino: number, parents: LinkParents | null): void { this.later(() => this.tx.putLinkParents(ino, parents)); }
  quotaDirs() { return this.read(() => this.tx.quotaDirs()); }
  getQuota(dir: number) { return this.read(() => this.tx.getQuota(dir)); }
  putQuota(dir: number, rec: QuotaRec | null): void { this.later(() => this.tx.putQuota(dir, rec)); }
  getOp(opId: string) { return this.read(() => this.tx.getOp(opId)); }
  putOp(opId: string, result: string, ttlMs: number): void { this.later(() => this.tx.putOp(opId, result, ttlMs)); }

  putHistory(at: number, records: HistoryRecord[]): void { this.later(() => this.tx.putHistory(at, records)); }
  historyAfter(kind: HistoryKind, k1: number, k2: string, after: number) { return this.read(() => this.tx.historyAfter(kind, k1, k2, after)); }
  historyFirsts(kind: HistoryKind, k1: number, after: number) { return this.read(() => this.tx.historyFirsts(kind, k1, after)); }
}

/** The runner every mutating store of an engine uses: each write transaction records its history. */
export function recordingRunner(runner: TxRunner): TxRunner {
  return {
    transact<T>(fn: (tx: MetaTx) => Promise<T>, readOnly?: boolean): Promise<T> {
      if (readOnly) return runner.transact(fn, true);
      return runner.transact(async (tx) => {
        const rec = new RecordingTx(tx);
        const result = await fn(rec);
        await rec.finish();
        return result;
      });
    },
    info: () => runner.info(),
    infoVersion: runner.infoVersion ? () => runner.infoVersion!() : undefined,
  };
}
