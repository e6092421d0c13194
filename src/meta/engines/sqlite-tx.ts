import type Database from 'better-sqlite3';
import type { BlockRef } from '../types.js';
import type { CounterName, IdCounters, InodeRec, LinkParents, MetaTx } from '../core/tx.js';
import type { InodeType } from '../types.js';

/** Schema of the sqlite engine: every table is keyed by volume id first. */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS volumes (id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, settings TEXT NOT NULL,
  capacity INTEGER NOT NULL, inode_limit INTEGER NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (vol TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL,
  PRIMARY KEY (vol, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inodes (vol TEXT NOT NULL, ino INTEGER NOT NULL, type TEXT NOT NULL, mode INTEGER NOT NULL,
  uid INTEGER NOT NULL, gid INTEGER NOT NULL, nlink INTEGER NOT NULL, size INTEGER NOT NULL, rdev INTEGER NOT NULL,
  atime INTEGER NOT NULL, mtime INTEGER NOT NULL, ctime INTEGER NOT NULL, btime INTEGER NOT NULL, gen INTEGER NOT NULL,
  parent INTEGER, target TEXT, PRIMARY KEY (vol, ino));
CREATE TABLE IF NOT EXISTS entries (vol TEXT NOT NULL, parent INTEGER NOT NULL, name TEXT NOT NULL, ino INTEGER NOT NULL,
  PRIMARY KEY (vol, parent, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS xattrs (vol TEXT NOT NULL, ino INTEGER NOT NULL, name TEXT NOT NULL, value BLOB NOT NULL,
  PRIMARY KEY (vol, ino, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS slots (vol TEXT NOT NULL, ino INTEGER NOT NULL, idx INTEGER NOT NULL, block_id INTEGER NOT NULL,
  length INTEGER NOT NULL, PRIMARY KEY (vol, ino, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS holds (vol TEXT NOT NULL, ino INTEGER NOT NULL, session TEXT NOT NULL, count INTEGER NOT NULL,
  PRIMARY KEY (vol, ino, session)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS holds_by_session ON holds (session);
CREATE TABLE IF NOT EXISTS locks (vol TEXT NOT NULL, ino INTEGER NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (vol, ino)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS link_parents (vol TEXT NOT NULL, ino INTEGER NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (vol, ino)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS gc (vol TEXT NOT NULL, block_id INTEGER NOT NULL, ino INTEGER NOT NULL, idx INTEGER NOT NULL,
  queued_at INTEGER NOT NULL, PRIMARY KEY (vol, block_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS gc_by_time ON gc (vol, queued_at);
CREATE TABLE IF NOT EXISTS ops (vol TEXT NOT NULL, op_id TEXT NOT NULL, result TEXT NOT NULL, expires_at INTEGER NOT NULL,
  PRIMARY KEY (vol, op_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ops_by_expiry ON ops (expires_at);
CREATE TABLE IF NOT EXISTS tokens (id TEXT PRIMARY KEY, hash TEXT UNIQUE NOT NULL, volume_id TEXT, admin INTEGER NOT NULL,
  label TEXT, created_at INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, volume_id TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
  mountpoint TEXT, started_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
`;

type Stmt = Database.Statement<unknown[], unknown>;

/** Prepared statements, made once per connection. */
export function prepareStatements(db: Database.Database) {
  const p = (sql: string): Stmt => db.prepare(sql);
  const inodeSelect = p('SELECT * FROM inodes WHERE vol = ? AND ino = ?');
  inodeSelect.safeIntegers(true); // ns times exceed 2^53
  const allInodes = p('SELECT * FROM inodes WHERE vol = ?');
  allInodes.safeIntegers(true);
  return {
    inodeSelect, allInodes,
    inodePut: p(`INSERT OR REPLACE INTO inodes (vol, ino, type, mode, uid, gid, nlink, size, rdev, atime, mtime, ctime, btime, gen, parent, target)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    inodeDel: p('DELETE FROM inodes WHERE vol = ? AND ino = ?'),
    xattrDelAll: p('DELETE FROM xattrs WHERE vol = ? AND ino = ?'),
    slotDelAll: p('DELETE FROM slots WHERE vol = ? AND ino = ?'),
    holdDelAll: p('DELETE FROM holds WHERE vol = ? AND ino = ?'),
    lockGet: p('SELECT data FROM locks WHERE vol = ? AND ino = ?'),
    lockPut: p('INSERT OR REPLACE INTO locks (vol, ino, data) VALUES (?, ?, ?)'),
    lockDel: p('DELETE FROM locks WHERE vol = ? AND ino = ?'),
    linkParentsGet: p('SELECT data FROM link_parents WHERE vol = ? AND ino = ?'),
    linkParentsPut: p('INSERT OR REPLACE INTO link_parents (vol, ino, data) VALUES (?, ?, ?)'),
    linkParentsDel: p('DELETE FROM link_parents WHERE vol = ? AND ino = ?'),
    entryDelAll: p('DELETE FROM entries WHERE vol = ? AND parent = ?'),
    entryGet: p('SELECT ino FROM entries WHERE vol = ? AND parent = ? AND name = ?'),
    entryPut: p('INSERT OR REPLACE INTO entries (vol, parent, name, ino) VALUES (?, ?, ?, ?)'),
    entryDel: p('DELETE FROM entries WHERE vol = ? AND parent = ? AND name = ?'),
    entryAny: p('SELECT 1 FROM entries WHERE vol = ? AND parent = ? LIMIT 1'),
    entryList: p('SELECT name, ino FROM entries WHERE vol = ? AND parent = ? AND name > ? ORDER BY name LIMIT ?'),
    allEntries: p('SELECT parent, name, ino FROM entries WHERE vol = ?'),
    xattrGet: p('SELECT value FROM xattrs WHERE vol = ? AND ino = ? AND name = ?'),
    xattrPut: p('INSERT OR REPLACE INTO xattrs (vol, ino, name, value) VALUES (?, ?, ?, ?)'),
    xattrDel: p('DELETE FROM xattrs WHERE vol = ? AND ino = ? AND name = ?'),
    xattrList: p('SELECT name FROM xattrs WHERE vol = ? AND ino = ? ORDER BY name'),
    slotsAll: p('SELECT idx AS "index", block_id AS blockId, length FROM slots WHERE vol = ? AND ino = ? ORDER BY idx'),
    slotsRange: p('SELECT idx AS "index", block_id AS blockId, length FROM slots WHERE vol = ? AND ino = ? AND idx >= ? AND idx < ? ORDER BY idx'),
    slotsPage: p(`SELECT ino, idx AS "index", block_id AS blockId, length FROM slots WHERE vol = ? AND (ino > ? OR (ino = ? AND idx > ?))
      ORDER BY ino, idx LIMIT ?`),
    slotPut: p('INSERT OR REPLACE INTO slots (vol, ino, idx, block_id, length) VALUES (?, ?, ?, ?, ?)'),
    slotDel: p('DELETE FROM slots WHERE vol = ? AND ino = ? AND idx = ?'),
    holdSum: p('SELECT COALESCE(SUM(count), 0) AS n FROM holds WHERE vol = ? AND ino = ?'),
    holdGet: p('SELECT count FROM holds WHERE vol = ? AND ino = ? AND session = ?'),
    holdAdd: p(`INSERT INTO holds (vol, ino, session, count) VALUES (?, ?, ?, ?)
      ON CONFLICT (vol, ino, session) DO UPDATE SET count = count + excluded.count`),
    holdPrune: p('DELETE FROM holds WHERE vol = ? AND ino = ? AND session = ? AND count <= 0'),
    holdsOfVolume: p('SELECT ino, SUM(count) AS n FROM holds WHERE vol = ? GROUP BY ino'),
    holdsOfSession: p('SELECT vol, ino FROM holds WHERE session = ?'),
    counterGet: p('SELECT value FROM counters WHERE vol = ? AND name = ?'),
    counterAdd: p('UPDATE counters SET value = value + ? WHERE vol = ? AND name = ? RETURNING value'),
    counterInit: p('INSERT OR REPLACE INTO counters (vol, name, value) VALUES (?, ?, ?)'),
    gcPush: p('INSERT OR REPLACE INTO gc (vol, block_id, ino, idx, queued_at) VALUES (?, ?, ?, ?, ?)'),
    gcList: p('SELECT block_id AS blockId, ino, idx AS "index", queued_at AS queuedAt FROM gc WHERE vol = ? AND queued_at <= ? ORDER BY queued_at, block_id LIMIT ?'),
    gcPage: p('SELECT block_id AS blockId, ino, idx AS "index" FROM gc WHERE vol = ? AND block_id > ? ORDER BY block_id LIMIT ?'),
    gcAfter: p('SELECT block_id AS blockId, ino, idx AS "index", queued_at AS queuedAt FROM gc WHERE vol = ? AND block_id > ? ORDER BY block_id LIMIT ?'),
    gcDel: p('DELETE FROM gc WHERE vol = ? AND block_id = ?'),
    opGet: p('SELECT result FROM ops WHERE vol = ? AND op_id = ? AND expires_at > ?'),
    opPut: p('INSERT OR REPLACE INTO ops (vol, op_id, result, expires_at) VALUES (?, ?, ?, ?)'),
    opPurge: p('DELETE FROM ops WHERE expires_at <= ?'),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;

type InodeRow = {
  ino: bigint; type: string; mode: bigint; uid: bigint; gid: bigint; nlink: bigint; size: bigint; rdev: bigint;
  atime: bigint; mtime: bigint; ctime: bigint; btime: bigint; gen: bigint; parent: bigint | null; target: string | null;
};

export function rowToInode(row: InodeRow): InodeRec {
  const r: InodeRec = {
    ino: Number(row.ino), type: row.type as InodeType, mode: Number(row.mode), uid: Number(row.uid), gid: Number(row.gid),
    nlink: Number(row.nlink), size: Number(row.size), rdev: Number(row.rdev), atime: BigInt(row.atime),
    mtime: BigInt(row.mtime), ctime: BigInt(row.ctime), btime: BigInt(row.btime), generation: Number(row.gen),
  };
  if (row.parent !== null) r.parent = Number(row.parent);
  if (row.target !== null) r.target = row.target;
  return r;
}

export function putInode(s: Statements, vol: string, r: InodeRec): void {
  s.inodePut.run(vol, r.ino, r.type, r.mode, r.uid, r.gid, r.nlink, r.size, r.rdev, r.atime, r.mtime, r.ctime, r.btime,
    r.generation, r.parent ?? null, r.target ?? null);
}

const COUNTER_KEYS = { usedBytes: 'usedBytes', inodes: 'inodes' } as const;

/** MetaTx over one connection inside an open transaction: every call runs its statement at once. */
export class SqliteTx implements MetaTx {
  private opsSincePurge = 0;
  constructor(private readonly s: Statements, private readonly vol: string) {}

  async getInode(ino: number): Promise<InodeRec | null> {
    const row = this.s.inodeSelect.get(this.vol, ino) as InodeRow | undefined;
    return row ? rowToInode(row) : null;
  }
  async getInodes(inos: number[]): Promise<(InodeRec | null)[]> {
    return inos.map((ino) => {
      const row = this.s.inodeSelect.get(this.vol, ino) as InodeRow | undefined;
      return row ? rowToInode(row) : null;
    });
  }
  putInode(rec: InodeRec): void { putInode(this.s, this.vol, rec); }
  delInode(ino: number): void {
    this.s.inodeDel.run(this.vol, ino);
    this.s.xattrDelAll.run(this.vol, ino);
    this.s.slotDelAll.run(this.vol, ino);
    this.s.holdDelAll.run(this.vol, ino);
    this.s.lockDel.run(this.vol, ino);
    this.s.linkParentsDel.run(this.vol, ino);
    this.s.entryDelAll.run(this.vol, ino);
  }

  async getEntry(parent: number, name: string): Promise<number | null> {
    const row = this.s.entryGet.get(this.vol, parent, name) as { ino: number } | undefined;
    return row ? row.ino : null;
  }
  putEntry(parent: number, name: string, ino: number): void { this.s.entryPut.run(this.vol, parent, name, ino); }
  delEntry(parent: number, name: string): void { this.s.entryDel.run(this.vol, parent, name); }
  async dirEmpty(dir: number): Promise<boolean> { return this.s.entryAny.get(this.vol, dir) === undefined; }
  async listEntries(dir: number, after: string | undefined, limit: number) {
    return this.s.entryList.all(this.vol, dir, after ?? '', limit) as { name: string; ino: number }[];
  }

  async getXattr(ino: number, name: string): Promise<Buffer | null> {
    const row = this.s.xattrGet.get(this.vol, ino, name) as { value: Buffer } | undefined;
    return row ? row.value : null;
  }
  setXattr(ino: number, name: string, value: Buffer): void { this.s.xattrPut.run(this.vol, ino, name, value); }
  delXattr(ino: number, name: string): void { this.s.xattrDel.run(this.vol, ino, name); }
  async listXattrs(ino: number): Promise<string[]> {
    return (this.s.xattrList.all(this.vol, ino) as { name: string }[]).map((r) => r.name);
  }

  async getSlots(ino: number): Promise<BlockRef[]> { return this.s.slotsAll.all(this.vol, ino) as BlockRef[]; }
  async getSlotRange(ino: number, from: number, count: number): Promise<BlockRef[]> {
    return this.s.slotsRange.all(this.vol, ino, from, from + count) as BlockRef[];
  }
  putSlot(ino: number, ref: BlockRef): void { this.s.slotPut.run(this.vol, ino, ref.index, ref.blockId, ref.length); }
  delSlot(ino: number, index: number): void { this.s.slotDel.run(this.vol, ino, index); }

  async getLocks(key: number): Promise<string | null> {
    return (this.s.lockGet.get(this.vol, key) as { data: string } | undefined)?.data ?? null;
  }
  putLocks(key: number, value: string | null): void {
    if (value === null) this.s.lockDel.run(this.vol, key);
    else this.s.lockPut.run(this.vol, key, value);
  }
  async getLinkParents(ino: number): Promise<LinkParents | null> {
    const row = this.s.linkParentsGet.get(this.vol, ino) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as LinkParents) : null;
  }
  putLinkParents(ino: number, parents: LinkParents | null): void {
    if (!parents || parents.length === 0) this.s.linkParentsDel.run(this.vol, ino);
    else this.s.linkParentsPut.run(this.vol, ino, JSON.stringify(parents));
  }
  async holdCount(ino: number): Promise<number> { return (this.s.holdSum.get(this.vol, ino) as { n: number }).n; }
  async sessionHolds(ino: number, session: string): Promise<number> {
    return (this.s.holdGet.get(this.vol, ino, session) as { count: number } | undefined)?.count ?? 0;
  }
  addHold(ino: number, session: string, delta: number): void {
    this.s.holdAdd.run(this.vol, ino, session, delta);
    if (delta < 0) this.s.holdPrune.run(this.vol, ino, session);
  }

  async allocIno(): Promise<number> {
    return (this.s.counterAdd.get(1, this.vol, 'nextIno') as { value: number }).value - 1;
  }
  async allocBlockIds(count: number): Promise<number> {
    return (this.s.counterAdd.get(count, this.vol, 'nextBlock') as { value: number }).value - count;
  }
  async getIdCounters(): Promise<IdCounters> {
    const get = (name: string) => (this.s.counterGet.get(this.vol, name) as { value: number } | undefined)?.value ?? 1;
    return { nextIno: get('nextIno'), nextBlock: get('nextBlock') };
  }
  setIdCounters(c: IdCounters): void {
    this.s.counterInit.run(this.vol, 'nextIno', c.nextIno);
    this.s.counterInit.run(this.vol, 'nextBlock', c.nextBlock);
  }
  addCounter(name: CounterName, delta: number): void { if (delta !== 0) this.s.counterAdd.run(delta, this.vol, COUNTER_KEYS[name]); }
  async getCounter(name: CounterName): Promise<number> {
    return (this.s.counterGet.get(this.vol, COUNTER_KEYS[name]) as { value: number } | undefined)?.value ?? 0;
  }

  gcPush(ino: number, index: number, blockId: number, queuedAt: number): void {
    this.s.gcPush.run(this.vol, blockId, ino, index, queuedAt);
  }

  async getOp(opId: string): Promise<string | null> {
    return (this.s.opGet.get(this.vol, opId, Date.now()) as { result: string } | undefined)?.result ?? null;
  }
  putOp(opId: string, result: string, ttlMs: number): void {
    const now = Date.now();
    this.s.opPut.run(this.vol, opId, result, now + ttlMs);
    if (++this.opsSincePurge % 256 === 0) this.s.opPurge.run(now);
  }
}
