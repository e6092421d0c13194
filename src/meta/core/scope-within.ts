import type { MetaTx } from './tx.js';
import { isWithin } from './ancestry.js';

/**
 * Is `ino` in the subtree of directory `dir` (or `dir` itself)? What a scoped token's session
 * may name (server/session-scope.ts). The walk is ancestry.ts's: a directory by its parent chain,
 * any other inode when one of its names is in the subtree. Inodes whose parents are unknown (made
 * before parents were kept) answer false: a scope never lets through what it cannot place.
 */
export function withinScope(tx: MetaTx, ino: number, dir: number): Promise<boolean> {
  return isWithin(tx, ino, dir);
}
