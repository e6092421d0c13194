import { FsError } from '../../errors/index.js';
import type { BlockRef } from '../types.js';
import type { CounterName, HistoryKind, HistoryRecord, IdCounters, InodeRec, LinkParents, MetaTx, QuotaRec, TxRunner } from '../core/tx.js';
import { historyCodec as codec } from './codec.js';

/**
 * A read-only MetaTx showing the volume as it was at `at` (ms): a key's value then is the
 * before-value of its earliest history record after `at`, else (never changed since) its current
 * value. Listings merge the current names with those that have records after `at`. Holds, locks
 * and op ids of the past are not kept: none are seen. Every write is EROFS.
 */
export class AsOfTx implements MetaTx {
  constructor(private readonly tx: MetaTx, private readonly at: number) {}

  private refuse(): never {
    throw new FsError('EROFS', `this view shows the volume as of ${new Date(this.at).toISOString()}: it is read-only`);
  }
  private past(kind: HistoryKind, k1: number, k2: string) { return this.tx.historyAfter(kind, k1, k2, this.at); }

  async getInode(ino: number): Promise<InodeRec | null> {
    const h = await this.past('inode', ino, '');
    if (!h) return this.tx.getInode(ino);
    return h.before === null ? null : codec.inode.dec(h.before);
  }
  getInodes(inos: number[]): Promise<(InodeRec | null)[]> { return Promise.all(inos.map((i) => this.getInode(i))); }

  async getEntry(parent: number, name: string): Promise<number | null> {
    const h = await this.past('entry', parent, name);
    if (!h) return this.tx.getEntry(parent, name);
    return h.before === null ? null : codec.entry.dec(h.before);
  }
  async dirEmpty(dir: number): Promise<boolean> { return (await this.listEntries(dir, undefined, 1)).length === 0; }
  /**
   * Names changed since `at` are looked up in the history; every other name is as it is now.
   * Asking the current listing for limit + |changed| names is enough: at most |changed| of them
   * drop out, so the first `limit` unchanged ones are all there.
   */
  async listEntries(dir: number, after: string | undefined, limit: number): Promise<{ name: string; ino: number }[]> {
    const past = await this.tx.historyFirsts('entry', dir, this.at);
    const changed = [...past.keys()].filter((n) => after === undefined || Buffer.compare(Buffer.from(n), Buffer.from(after)) > 0);
    const now = await this.tx.listEntries(dir, after, limit + changed.length);
    const out = now.filter((e) => !past.has(e.name));
    for (const name of changed) {
      const before = past.get(name)!;
      if (before !== null) out.push({ name, ino: codec.entry.dec(before) });
    }
    out.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
    // Names past the current page's last one may be missing from `now`: cut there unless the page was complete.
    const complete = now.length < limit + changed.length;
    const last = now.length > 0 ? now[now.length - 1].name : undefined;
    const kept = complete || last === undefined ? out : out.filter((e) => Buffer.compare(Buffer.from(e.name), Buffer.from(last)) <= 0);
    return kept.slice(0, limit);
  }

  async getXattr(ino: number, name: string): Promise<Buffer | null> {
    const h = await this.past('xattr', ino, name);
    if (!h) return this.tx.getXattr(ino, name);
    return h.before === null ? null : codec.xattr.dec(h.before);
  }
  async listXattrs(ino: number): Promise<string[]> {
    const past = await this.tx.historyFirsts('xattr', ino, this.at);
    const out = (await this.tx.listXattrs(ino)).filter((n) => !past.has(n));
    for (const [name, before] of past) if (before !== null) out.push(name);
    return out.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  }

  async getSlots(ino: number): Promise<BlockRef[]> {
    const slots = new Map((await this.tx.getSlots(ino)).map((s) => [s.index, s]));
    for (const [k2, before] of await this.tx.historyFirsts('slot', ino, this.at)) {
      const index = Number(k2);
      if (before === null) slots.delete(index);
      else slots.set(index, codec.slot.dec(index, before));
    }
    return [...slots.values()].sort((a, b) => a.index - b.index);
  }
  async getSlotRange(ino: number, from: number, count: number): Promise<BlockRef[]> {
    return (await this.getSlots(ino)).filter((s) => s.index >= from && s.index < from + count);
  }

  // The past holds nothing open and no locks; counters are today's (statfs only).
  async holdCount(): Promise<number> { return 0; }
  async sessionHolds(): Promise<number> { return 0; }
  async getLocks(): Promise<string | null> { return null; }
  getCounter(name: CounterName): Promise<number> { return this.tx.getCounter(name); }
  getIdCounters(): Promise<IdCounters> { return this.tx.getIdCounters(); }
  async getOp(): Promise<string | null> { return null; }
  // Link parents and quotas are not history: today's (quota lookups of statfs only).
  getLinkParents(ino: number): Promise<LinkParents | null> { return this.tx.getLinkParents(ino); }
  quotaDirs(): Promise<number[]> { return this.tx.quotaDirs(); }
  getQuota(dir: number): Promise<QuotaRec | null> { return this.tx.getQuota(dir); }
  historyAfter(kind: HistoryKind, k1: number, k2: string, after: number) { return this.tx.historyAfter(kind, k1, k2, after); }
  historyFirsts(kind: HistoryKind, k1: number, after: number) { return this.tx.historyFirsts(kind, k1, after); }

  putInode(): void { this.refuse(); }
  delInode(): void { this.refuse(); }
  putEntry(): void { this.refuse(); }
  delEntry(): void { this.refuse(); }
  setXattr(): void { this.refuse(); }
  delXattr(): void { this.refuse(); }
  putSlot(): void { this.refuse(); }
  delSlot(): void { this.refuse(); }
  addHold(): void { this.refuse(); }
  putLocks(): void { this.refuse(); }
  async allocIno(): Promise<number> { this.refuse(); }
  async allocBlockIds(): Promise<number> { this.refuse(); }
  addCounter(): void { this.refuse(); }
  setIdCounters(): void { this.refuse(); }
  gcPush(): void { this.refuse(); }
  putOp(): void { this.refuse(); }
  putLinkParents(): void { this.refuse(); }
  putQuota(): void { this.refuse(); }
  putHistory(_at: number, _r: HistoryRecord[]): void { this.refuse(); }
}

/** A runner whose every transaction is a read-only AsOfTx at `at`; a mutating one fails EROFS. */
export function asOfRunner(runner: TxRunner, at: number): TxRunner {
  return {
    transact: <T>(fn: (tx: MetaTx) => Promise<T>) => runner.transact((tx) => fn(new AsOfTx(tx, at)), true),
    info: () => runner.info(),
    infoVersion: runner.infoVersion ? () => runner.infoVersion!() : undefined,
  };
}
