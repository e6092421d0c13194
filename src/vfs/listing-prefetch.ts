import { LISTING_PREFETCH_DEFAULTS } from '../config/defaults.js';
import type { OpContext } from '../meta/types.js';

/**
 * Lists directories ahead of a tree walker. A walker (`find`, `du`, `ls -R`, `rm -rf`) opens the
 * subdirectories of what it just listed, one at a time, so each costs it a metadata round trip
 * in series; fetching them in the background, a few at once, turns that latency into throughput.
 *
 * A walk is recognised when a directory listed was a subdirectory of a listing read within
 * `walkWindowMs`: then up to `perDir` of its own subdirectories, and of its siblings, are queued
 * (newest first: a depth-first walker goes down before it goes across), `concurrency` fetched at
 * once, at most `queue` waiting (the oldest go). A plain `ls` of one directory fetches nothing.
 * What a fetch brings is stored only if nothing changed the directory meanwhile (Listings.put).
 */
export class ListingPrefetch {
  /** Subdirectory ino → the listing (parent ino) it was seen in, and when. */
  private readonly seenIn = new Map<number, { parent: number; at: number }>();
  /** Subdirectories of each listing read, for the siblings of a walked directory. */
  private readonly subdirsOf = new Map<number, number[]>();
  private readonly stack: { dir: number; ctx: OpContext }[] = [];
  private readonly queued = new Set<number>();
  private inFlight = 0;
  private stopped = false;

  constructor(private readonly d: {
    /** True when `dir`'s listing is held already (nothing to fetch). */
    held: (dir: number) => boolean;
    /** Fetch and keep `dir`'s listing (errors are the fetch's own business: ignored here). */
    fetch: (dir: number, ctx: OpContext) => Promise<void>;
    /** Prefetch only while this holds (a mount that hears other mounts' changes). */
    enabled: () => boolean;
  }, private readonly o: { [K in keyof typeof LISTING_PREFETCH_DEFAULTS]: number } = LISTING_PREFETCH_DEFAULTS) {}

  /** `dir` was listed (fetched or from the cache); `subdirs` are the directories in it. */
  listed(dir: number, subdirs: number[], ctx: OpContext): void {
    if (this.stopped || !this.d.enabled()) return;
    const now = Date.now();
    this.remember(dir, subdirs, now);
    const seen = this.seenIn.get(dir);
    if (!seen || now - seen.at > this.o.walkWindowMs) return;
    // Siblings first, then the children: the stack serves the children (deeper) first.
    const siblings = (this.subdirsOf.get(seen.parent) ?? []).filter((s) => s !== dir);
    for (const s of siblings.slice(0, this.o.perDir).reverse()) this.push(s, ctx);
    for (const c of subdirs.slice(0, this.o.perDir).reverse()) this.push(c, ctx);
    this.pump();
  }

  stop(): void {
    this.stopped = true;
    this.stack.length = 0;
    this.queued.clear();
  }

  private remember(dir: number, subdirs: number[], now: number): void {
    if (this.seenIn.size > this.o.queue * 16) this.seenIn.clear();
    if (this.subdirsOf.size > this.o.queue) this.subdirsOf.clear();
    this.subdirsOf.set(dir, subdirs);
    for (const s of subdirs) this.seenIn.set(s, { parent: dir, at: now });
  }

  private push(dir: number, ctx: OpContext): void {
    if (this.queued.has(dir) || this.d.held(dir)) return;
    this.stack.push({ dir, ctx });
    this.queued.add(dir);
    if (this.stack.length > this.o.queue) this.queued.delete(this.stack.shift()!.dir);
  }

  private pump(): void {
    while (this.inFlight < this.o.concurrency && this.stack.length > 0 && !this.stopped) {
      const { dir, ctx } = this.stack.pop()!;
      if (this.d.held(dir)) { this.queued.delete(dir); continue; }
      this.inFlight++;
      this.d.fetch(dir, ctx).catch(() => undefined).finally(() => {
        this.inFlight--;
        this.queued.delete(dir);
        this.pump();
      });
    }
  }
}
