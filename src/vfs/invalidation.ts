/**
 * What each kind of change makes stale in the mount's metadata caches (MetaCache's entries
 * and attributes), declared once. The core reports every change it makes as a `Change`; the
 * caches (and, with coherent caching, the kernel's) drop what `staleAfter` lists. Entries a
 * change creates are put into the cache by the core with their fresh attributes, not dropped.
 */
export type ChangeKind = 'create' | 'link' | 'unlink' | 'rmdir' | 'rename' | 'setattr' | 'xattr';

export interface Change {
  kind: ChangeKind;
  /** The directory the name is in (create, link, unlink, rmdir, rename's source). */
  parent?: number;
  name?: string;
  /** The inode changed, linked, removed or moved. */
  ino?: number;
  /** rename: where it went, and the inode it replaced there (if any). */
  newParent?: number;
  newName?: string;
  replaced?: number;
}

export interface Stale {
  entries: [parent: number, name: string][];
  attrs: number[];
}

type Rule = (c: Change) => Stale;
const defined = <T>(xs: (T | undefined)[]): T[] => xs.filter((x): x is T => x !== undefined);
const entry = (p?: number, n?: string): [number, string][] => (p !== undefined && n !== undefined ? [[p, n]] : []);

const RULES: Record<ChangeKind, Rule> = {
  // a new name: the directory's size, mtime and ctime (and nlink for mkdir) changed
  create: (c) => ({ entries: [], attrs: defined([c.parent]) }),
  // a new name for an existing inode: its nlink and ctime changed too
  link: (c) => ({ entries: [], attrs: defined([c.parent, c.ino]) }),
  unlink: (c) => ({ entries: entry(c.parent, c.name), attrs: defined([c.parent, c.ino]) }),
  rmdir: (c) => ({ entries: entry(c.parent, c.name), attrs: defined([c.parent, c.ino]) }),
  rename: (c) => ({
    entries: [...entry(c.parent, c.name), ...entry(c.newParent, c.newName)],
    attrs: defined([c.parent, c.newParent, c.ino, c.replaced]),
  }),
  setattr: (c) => ({ entries: [], attrs: defined([c.ino]) }),
  // an xattr change moves ctime
  xattr: (c) => ({ entries: [], attrs: defined([c.ino]) }),
};

export function staleAfter(change: Change): Stale {
  return RULES[change.kind](change);
}
