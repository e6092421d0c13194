import { isFsError } from '../errors/index.js';
import type { Attr, Changes, MetaStore, OpContext } from '../meta/types.js';
import { staleAfter, type Change } from './invalidation.js';
import { Listings, type Listing } from './listings.js';

interface Timed<T> {
  value: T;
  expires: number;
}

/** Entries past this many are pruned (expired first, then all): the caches stay bounded. */
const CACHE_MAX = 100_000;

/**
 * The mount's cache of directory entries (parent ino + name → ino) and attributes (ino → Attr),
 * each trusted for `ttlMs()` at the time it is put (0: off). The core's own changes drop what they make stale
 * (invalidation.ts); changes by other clients show up within the TTL, and at open
 * (close-to-open: open always asks the metadata server).
 */
export class MetaCache {
  private readonly entries = new Map<string, Timed<number>>();
  private readonly attrs = new Map<number, Timed<Attr>>();
  /** Complete directory listings (names → inodes; the attributes are the ones above). */
  readonly listings = new Listings();
  /**
   * Lookups and attribute reads answered here (hits) or by the metadata server (misses; reads
   * that must be fresh are not counted), and what other mounts' pushed changes dropped (metrics).
   */
  readonly stats = { entryHits: 0, entryMisses: 0, attrHits: 0, attrMisses: 0, changedEntries: 0, changedAttrs: 0, changedData: 0, resets: 0,
    listingHits: 0, listingMisses: 0, listingsPrefetched: 0, filesPrefetched: 0 };

  constructor(
    private readonly meta: MetaStore,
    /** Read at each put: a mount that stops hearing other mounts' changes trusts shorter at once. */
    private readonly ttlMs: () => number,
    private readonly call: <T>(what: string, fn: () => Promise<T>) => Promise<T>,
  ) {}

  async lookup(parent: number, name: string, ctx: OpContext): Promise<Attr> {
    const now = Date.now();
    const e = this.entries.get(key(parent, name));
    if (e && e.expires > now) this.stats.entryHits++; else this.stats.entryMisses++;
    if (e && e.expires > now) {
      const a = this.attrs.get(e.value);
      if (a && a.expires > now) return a.value;
      try {
        return await this.getattr(e.value, ctx);
      } catch (err) {
        // The cached entry points at an inode that is gone: ask for the name afresh.
        if (!isFsError(err, 'ENOENT')) throw err;
        this.dropEntry(parent, name);
      }
    }
    const attr = await this.call('lookup', () => this.meta.lookup(parent, name, ctx));
    this.putEntry(parent, name, attr);
    return attr;
  }

  /** Look `name` up at the metadata server, whatever the cache holds. */
  lookupFresh(parent: number, name: string, ctx: OpContext): Promise<Attr> {
    this.dropEntry(parent, name);
    return this.lookup(parent, name, ctx);
  }

  async getattr(ino: number, ctx: OpContext, fresh = false): Promise<Attr> {
    const a = this.attrs.get(ino);
    if (!fresh && a && a.expires > Date.now()) { this.stats.attrHits++; return a.value; }
    if (!fresh) this.stats.attrMisses++;
    const attr = await this.call('getattr', () => this.meta.getattr(ino, ctx));
    this.putAttr(attr);
    return attr;
  }

  putEntry(parent: number, name: string, attr: Attr): void {
    const ttl = this.ttlMs();
    if (ttl <= 0) return;
    this.bound(this.entries);
    this.entries.set(key(parent, name), { value: attr.ino, expires: Date.now() + ttl });
    this.putAttr(attr);
  }

  putAttr(attr: Attr): void {
    const ttl = this.ttlMs();
    if (ttl <= 0) return;
    this.bound(this.attrs);
    this.attrs.set(attr.ino, { value: attr, expires: Date.now() + ttl });
  }

  dropEntry(parent: number, name: string): void {
    this.entries.delete(key(parent, name));
    this.listings.drop(parent);
  }

  /**
   * `dir`'s entries with their attributes, from a complete listing held here, or undefined when
   * none is held or an entry's attributes are not (then the caller asks the metadata server).
   */
  listing(dir: number): [name: string, attr: Attr][] | undefined {
    const names = this.listings.get(dir);
    const now = Date.now();
    const out: [string, Attr][] = [];
    for (const [name, ino] of names ?? []) {
      const a = this.attrs.get(ino);
      if (!a || a.expires <= now) { this.stats.listingMisses++; return undefined; }
      out.push([name, a.value]);
    }
    if (names) this.stats.listingHits++; else this.stats.listingMisses++;
    return names && out;
  }

  /**
   * Keep `dir`'s complete listing, fetched after `version` (this.listings.version(dir)) was
   * taken; its entries and attributes go in as puts do. False when it was not kept.
   */
  putListing(dir: number, entries: [name: string, attr: Attr][], version: string): boolean {
    for (const [name, attr] of entries) this.putEntry(dir, name, attr);
    const names: Listing = entries.map(([name, attr]) => [name, attr.ino]);
    return this.listings.put(dir, names, version, this.ttlMs());
  }

  dropAttr(ino: number): void {
    this.attrs.delete(ino);
  }

  /**
   * Drop what another mount changed (pushed by meta.flexfs): entries, and the inode each of them
   * mapped to here (its nlink or ctime moved); attributes. `null`: changes may have been missed,
   * drop everything.
   */
  othersChanged(changes: Changes | null): void {
    if (!changes) {
      this.stats.resets++;
      this.entries.clear();
      this.attrs.clear();
      this.listings.clear();
      return;
    }
    this.stats.changedEntries += changes.e.length;
    this.stats.changedAttrs += changes.a.length;
    this.stats.changedData += changes.d.length;
    for (const [parent, name] of changes.e) {
      const e = this.entries.get(key(parent, name));
      if (e) this.dropAttr(e.value);
      this.dropEntry(parent, name);
    }
    for (const ino of changes.a) { this.dropAttr(ino); this.listings.drop(ino); }
    for (const ino of changes.d) this.dropAttr(ino);
  }

  /** Drop what `change` made stale (the table in invalidation.ts). */
  changed(change: Change): void {
    const stale = staleAfter(change);
    for (const [parent, name] of stale.entries) this.dropEntry(parent, name);
    // A directory whose attributes moved (a name came or went) has a stale listing too.
    for (const ino of stale.attrs) { this.dropAttr(ino); this.listings.drop(ino); }
  }

  private bound<K, V>(m: Map<K, Timed<V>>): void {
    if (m.size < CACHE_MAX) return;
    const now = Date.now();
    for (const [k, v] of m) if (v.expires <= now) m.delete(k);
    if (m.size >= CACHE_MAX) m.clear();
  }
}

function key(parent: number, name: string): string {
  return `${parent}/${name}`;
}
