/**
 * Redis key layout. Every key of a volume carries the hash tag {v:<volumeId>}, so under Redis
 * Cluster one volume lives in one slot and a whole operation is one script on one node.
 * Cross-volume admin data (volumes, tokens, sessions) lives under the tag {flexfs}; no script,
 * MULTI or multi-key command touches both tags (Cluster would refuse it with CROSSSLOT).
 */
export function volumeKeys(volumeId: string) {
  const t = `{v:${volumeId}}`;
  return {
    tag: t,
    counters: `${t}:c`,            // hash: lastIno, lastBlock, inodes, usedBytes
    inode: (ino: number) => `${t}:i:${ino}`,           // string: JSON inode record
    entries: (dir: number) => `${t}:e:${dir}`,         // hash: name → ino
    names: (dir: number) => `${t}:n:${dir}`,           // zset (score 0): names in byte order
    xattrs: (ino: number) => `${t}:x:${ino}`,          // hash: name → value
    slots: (ino: number) => `${t}:b:${ino}`,           // hash: index → "blockId:length"
    holds: (ino: number) => `${t}:h:${ino}`,           // hash: session → count
    locks: (ino: number) => `${t}:l:${ino}`,           // string: JSON lock set (meta/locks); l:0 the wait graph
    linkParents: (ino: number) => `${t}:lp:${ino}`,    // string: JSON [dir, count][] (core/ancestry.ts)
    sessionHolds: (s: string) => `${t}:s:${s}`,        // hash: ino → count (mirror, for expiry)
    gc: `${t}:gc`,                                     // zset: "blockId:ino:index" scored by queuedAt
    op: (opId: string) => `${t}:op:${opId}`,           // string with expiry: recorded result
    all: `${t}:*`,
  };
}

export type VolumeKeys = ReturnType<typeof volumeKeys>;

export const ADMIN = {
  volumes: '{flexfs}:volumes',     // hash: id → StoredVolume JSON
  volumeNames: '{flexfs}:volnames', // hash: name → id
  tokens: '{flexfs}:tokens',       // hash: id → token JSON (with sha256 of the secret)
  tokenHashes: '{flexfs}:tokhash', // hash: sha256 → id
  sessions: '{flexfs}:sessions',   // hash: id → session JSON
  sessionExpiry: '{flexfs}:sessexp', // zset: id scored by expiresAt
};
