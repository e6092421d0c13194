import type { BlockRef } from '../types.js';
import { decodeInode, encodeInode } from '../core/rules.js';
import type { CounterName, HistoryKind, HistoryRecord, IdCounters, InodeRec, LinkParents, MetaTx, QuotaRec } from '../core/tx.js';
import { historyGroup, historyMember, parseHistoryMember, parseHistoryValue } from './redis-history.js';
import type { VolumeKeys } from './redis-keys.js';
import type { RedisClient } from './redis-client.js';

/**
 * Optimistic MetaTx for redis: reads go to the server and are recorded as checks (what was
 * seen), writes are buffered; RedisRunner (redis-runner.ts) then sends checks + writes to the
 * one Lua script (redis-lua.ts). An overlay makes reads see this transaction's own writes.
 */
type Check = (string | number | Buffer | false | string[])[];
type Write = (string | number | Buffer)[];

export class RedisTx implements MetaTx {
  readonly checks: Check[] = [];
  readonly writes: Write[] = [];
  readonly keys: string[] = [];
  private readonly keyIndex = new Map<string, number>();
  private readonly overlay = new Map<string, unknown>();

  constructor(private readonly r: RedisClient, private readonly k: VolumeKeys) {}

  private ki(key: string): number {
    let i = this.keyIndex.get(key);
    if (i === undefined) {
      this.keys.push(key);
      i = this.keys.length; // Lua KEYS is 1-based
      this.keyIndex.set(key, i);
    }
    return i;
  }
  private check(kind: string, key: string, ...args: (string | number | Buffer | false | string[])[]): void {
    this.checks.push([kind, this.ki(key), ...args]);
  }
  private write(kind: string, key: string, ...args: (string | number | Buffer)[]): void {
    this.writes.push([kind, this.ki(key), ...args]);
  }

  // ------------------------------------------------------------ inodes

  /**
   * A string key through the overlay (`ok` its overlay name): this transaction's own write if it
   * made one, else read once from redis and recorded for validation.
   */
  private async getRecorded(ok: string, key: string): Promise<string | null> {
    if (this.overlay.has(ok)) return this.overlay.get(ok) as string | null;
    const v = await this.r.get(key);
    this.check('get', key, v ?? false);
    this.overlay.set(ok, v);
    return v;
  }

  async getInode(ino: number): Promise<InodeRec | null> {
    return this.copy(await this.getRecorded(`i${ino}`, this.k.inode(ino)));
  }
  private copy(v: string | null): InodeRec | null { return v === null ? null : decodeInode(v); }

  async getInodes(inos: number[]): Promise<(InodeRec | null)[]> {
    const missing = inos.filter((i) => !this.overlay.has(`i${i}`));
    if (missing.length > 0) {
      const keys = missing.map((i) => this.k.inode(i));
      const vals = await this.r.mget(...keys);
      missing.forEach((ino, j) => {
        this.check('get', keys[j], vals[j] ?? false);
        this.overlay.set(`i${ino}`, vals[j]);
      });
    }
    return inos.map((i) => this.copy(this.overlay.get(`i${i}`) as string | null));
  }
  putInode(rec: InodeRec): void {
    const v = encodeInode(rec);
    this.overlay.set(`i${rec.ino}`, v);
    this.write('set', this.k.inode(rec.ino), v);
  }
  delInode(ino: number): void {
    this.overlay.set(`i${ino}`, null);
    this.overlay.set(`p${ino}`, null);
    for (const key of [this.k.inode(ino), this.k.xattrs(ino), this.k.slots(ino), this.k.holds(ino), this.k.locks(ino), this.k.linkParents(ino), this.k.entries(ino), this.k.names(ino)]) {
      this.write('del', key);
    }
  }

  // ------------------------------------------------------------ entries

  async getEntry(parent: number, name: string): Promise<number | null> {
    const ok = `e${parent}/${name}`;
    if (this.overlay.has(ok)) return this.overlay.get(ok) as number | null;
    const key = this.k.entries(parent);
    const v = await this.r.hget(key, name);
    this.check('hget', key, name, v ?? false);
    const ino = v === null ? null : Number(v);
    this.overlay.set(ok, ino);
    return ino;
  }
  putEntry(parent: number, name: string, ino: number): void {
    this.overlay.set(`e${parent}/${name}`, ino);
    this.write('hset', this.k.entries(parent), name, String(ino));
    this.write('zadd', this.k.names(parent), '0', name);
  }
  delEntry(parent: number, name: string): void {
    this.overlay.set(`e${parent}/${name}`, null);
    this.write('hdel', this.k.entries(parent), name);
    this.write('zrem', this.k.names(parent), name);
  }
  async dirEmpty(dir: number): Promise<boolean> {
    const key = this.k.entries(dir);
    const n = await this.r.hlen(key);
    this.check('hlen', key, n);
    return n === 0;
  }
  async listEntries(dir: number, after: string | undefined, limit: number): Promise<{ name: string; ino: number }[]> {
    const names = await this.r.zrangebylex(this.k.names(dir), after === undefined ? '-' : `(${after}`, '+', 'LIMIT', 0, limit);
    if (names.length === 0) return [];
    const inos = await this.r.hmget(this.k.entries(dir), ...names);
    const out: { name: string; ino: number }[] = [];
    names.forEach((name, i) => { if (inos[i] !== null) out.push({ name, ino: Number(inos[i]) }); });
    return out;
  }

  // ------------------------------------------------------------ xattrs

  async getXattr(ino: number, name: string): Promise<Buffer | null> {
    const ok = `x${ino}/${name}`;
    if (this.overlay.has(ok)) return this.overlay.get(ok) as Buffer | null;
    const key = this.k.xattrs(ino);
    const v = await this.r.hgetBuffer(key, name);
    this.check('hget', key, name, v ?? false);
    this.overlay.set(ok, v);
    return v;
  }
  setXattr(ino: number, name: string, value: Buffer): void {
    this.overlay.set(`x${ino}/${name}`, value);
    this.write('hset', this.k.xattrs(ino), name, value);
  }
  delXattr(ino: number, name: string): void {
    this.overlay.set(`x${ino}/${name}`, null);
    this.write('hdel', this.k.xattrs(ino), name);
  }
  async listXattrs(ino: number): Promise<string[]> {
    return this.r.hkeys(this.k.xattrs(ino));
  }

  // ------------------------------------------------------------ block maps

  async getSlots(ino: number): Promise<BlockRef[]> {
    const key = this.k.slots(ino);
    const flat = (await this.r.call('HGETALL', key)) as string[];
    this.check('hall', key, flat);
    const out: BlockRef[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const [blockId, length] = flat[i + 1].split(':').map(Number);
      out.push({ index: Number(flat[i]), blockId, length });
    }
    return out.sort((a, b) => a.index - b.index);
  }
  async getSlotRange(ino: number, from: number, count: number): Promise<BlockRef[]> {
    return (await this.getSlots(ino)).filter((s) => s.index >= from && s.index < from + count);
  }
  putSlot(ino: number, ref: BlockRef): void {
    this.write('hset', this.k.slots(ino), String(ref.index), `${ref.blockId}:${ref.length}`);
  }
  delSlot(ino: number, index: number): void {
    this.write('hdel', this.k.slots(ino), String(index));
  }

  // ------------------------------------------------------------ holds

  async holdCount(ino: number): Promise<number> {
    const key = this.k.holds(ino);
    const flat = (await this.r.call('HGETALL', key)) as string[];
    this.check('hall', key, flat);
    let n = 0;
    for (let i = 1; i < flat.length; i += 2) n += Number(flat[i]);
    return n;
  }
  async sessionHolds(ino: number, session: string): Promise<number> {
    const key = this.k.holds(ino);
    const v = await this.r.hget(key, session);
    this.check('hget', key, session, v ?? false);
    return v === null ? 0 : Number(v);
  }
  addHold(ino: number, session: string, delta: number): void {
    this.write('hincr', this.k.holds(ino), session, String(delta));
    this.write('hincr', this.k.sessionHolds(session), String(ino), String(delta));
  }

  // ------------------------------------------------------------ locks

  getLocks(key: number): Promise<string | null> {
    return this.getRecorded(`l${key}`, this.k.locks(key));
  }
  putLocks(key: number, value: string | null): void {
    this.overlay.set(`l${key}`, value);
    if (value === null) this.write('del', this.k.locks(key));
    else this.write('set', this.k.locks(key), value);
  }

  // ------------------------------------------------------------ link parents

  async getLinkParents(ino: number): Promise<LinkParents | null> {
    const v = await this.getRecorded(`p${ino}`, this.k.linkParents(ino));
    return v === null ? null : (JSON.parse(v) as LinkParents);
  }
  putLinkParents(ino: number, parents: LinkParents | null): void {
    const v = parents && parents.length ? JSON.stringify(parents) : null;
    this.overlay.set(`p${ino}`, v);
    if (v === null) this.write('del', this.k.linkParents(ino));
    else this.write('set', this.k.linkParents(ino), v);
  }

  // ------------------------------------------------------------ quotas

  async quotaDirs(): Promise<number[]> {
    if (!this.overlay.has('qd')) {
      const flat = (await this.r.call('HGETALL', this.k.quotaDirs)) as string[];
      this.check('hall', this.k.quotaDirs, flat);
      const dirs = new Set<number>();
      for (let i = 0; i < flat.length; i += 2) dirs.add(Number(flat[i]));
      this.overlay.set('qd', dirs);
    }
    return [...(this.overlay.get('qd') as Set<number>)].sort((a, b) => a - b);
  }
  async getQuota(dir: number): Promise<QuotaRec | null> {
    const v = await this.getRecorded(`q${dir}`, this.k.quota(dir));
    return v === null ? null : (JSON.parse(v) as QuotaRec);
  }
  putQuota(dir: number, rec: QuotaRec | null): void {
    const v = rec === null ? null : JSON.stringify(rec);
    this.overlay.set(`q${dir}`, v);
    const known = this.overlay.get('qd') as Set<number> | undefined;
    if (v === null) {
      this.write('del', this.k.quota(dir));
      this.write('hdel', this.k.quotaDirs, String(dir));
      known?.delete(dir);
    } else {
      this.write('set', this.k.quota(dir), v);
      // usage updates leave the directory list alone, so charging transactions do not conflict on it
      if (!known?.has(dir)) this.write('hset', this.k.quotaDirs, String(dir), '1');
      known?.add(dir);
    }
  }

  // ------------------------------------------------------------ counters, gc, ops

  async allocIno(): Promise<number> {
    // Outside the script on purpose: a retried transaction only leaves a gap.
    return this.r.hincrby(this.k.counters, 'lastIno', 1);
  }
  async allocBlockIds(count: number): Promise<number> {
    return (await this.r.hincrby(this.k.counters, 'lastBlock', count)) - count + 1;
  }
  /** The counters hold the LAST ids handed out; the interface speaks of the next ones. */
  async getIdCounters(): Promise<IdCounters> {
    const [ino, block] = await this.r.hmget(this.k.counters, 'lastIno', 'lastBlock');
    return { nextIno: Number(ino ?? 1) + 1, nextBlock: Number(block ?? 0) + 1 };
  }
  setIdCounters(c: IdCounters): void {
    this.write('hset', this.k.counters, 'lastIno', String(c.nextIno - 1));
    this.write('hset', this.k.counters, 'lastBlock', String(c.nextBlock - 1));
  }
  addCounter(name: CounterName, delta: number): void {
    if (delta !== 0) this.write('hincrc', this.k.counters, name, String(delta));
  }
  async getCounter(name: CounterName): Promise<number> {
    const v = await this.r.hget(this.k.counters, name);
    this.check('hget', this.k.counters, name, v ?? false);
    return Number(v ?? 0);
  }
  gcPush(ino: number, index: number, blockId: number, queuedAt: number): void {
    this.write('zadd', this.k.gc, String(queuedAt), `${blockId}:${ino}:${index}`);
  }
  // ------------------------------------------------------------ history (redis-history.ts)

  putHistory(at: number, records: HistoryRecord[]): void {
    this.write('setnx', this.k.historyStart, String(at)); // volumes older than history start recording now
    const groups = new Set<string>();
    for (const r of records) {
      const group = historyGroup(r.kind, r.k1);
      const member = historyMember(at, r.k2);
      this.write('zaddnx', this.k.historyTimes(group), String(at), member);
      this.write('hsetnx', this.k.historyValues(group), member, r.before === null ? '-' : `+${r.before}`);
      groups.add(group);
    }
    for (const group of groups) this.write('zaddnx', this.k.historyGroups, String(at), group);
  }
  async historyAfter(kind: HistoryKind, k1: number, k2: string, after: number): Promise<{ before: string | null } | undefined> {
    const group = historyGroup(kind, k1);
    const members = await this.r.zrangebyscore(this.k.historyTimes(group), `(${after}`, '+inf');
    const first = members.find((m) => parseHistoryMember(m).k2 === k2);
    if (first === undefined) return undefined;
    return { before: parseHistoryValue(await this.r.hget(this.k.historyValues(group), first)) };
  }
  async historyFirsts(kind: HistoryKind, k1: number, after: number): Promise<Map<string, string | null>> {
    const group = historyGroup(kind, k1);
    const firsts = new Map<string, string>(); // k2 → member of its earliest record (members come by time)
    for (const m of await this.r.zrangebyscore(this.k.historyTimes(group), `(${after}`, '+inf')) {
      const { k2 } = parseHistoryMember(m);
      if (!firsts.has(k2)) firsts.set(k2, m);
    }
    const out = new Map<string, string | null>();
    if (firsts.size === 0) return out;
    const values = await this.r.hmget(this.k.historyValues(group), ...firsts.values());
    [...firsts.keys()].forEach((k2, i) => out.set(k2, parseHistoryValue(values[i])));
    return out;
  }

  async getOp(opId: string): Promise<string | null> {
    const key = this.k.op(opId);
    const v = await this.r.get(key);
    this.check('get', key, v ?? false);
    return v;
  }
  putOp(opId: string, result: string, ttlMs: number): void {
    this.write('setpx', this.k.op(opId), result, String(ttlMs));
  }
}
