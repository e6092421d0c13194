/**
 * A file's changes that are not committed yet, as a commit ready to apply: what the recovery
 * folder holds (an unmount that could not upload) and what a writeback stage will hold. Leaf
 * module: the VFS produces these, recovery/ stores and applies them.
 */

/** One slot of a pending commit. */
export interface PendingWrite {
  index: number;
  /** 0 with length 0: the slot becomes a hole (fallocate punch). */
  blockId: number;
  length: number;
  /** The block's encoded frame, ready to PUT under its key; absent: already in the bucket. */
  frame?: Buffer;
}

/** One inode's pending commit: PUT the frames, then commit { ino, writes, size, mtime }. */
export interface PendingCommit {
  ino: number;
  size: number;
  /** The writer's last change (ns); also what the later-commit-wins rule compares. */
  mtime: bigint;
  writes: PendingWrite[];
}

/** Where the VFS hands pending commits it could not finish (the mount's recovery folder). */
export interface RecoverySink {
  /** Store `pending` durably (fsync'd), with why it could not be uploaded; resolves to the record's path. */
  save(pending: PendingCommit, reason?: string): Promise<string>;
  /** The folder, and how to apply what it holds: for the error an unmount ends with. */
  readonly folder: string;
  readonly applyHint: string;
}
