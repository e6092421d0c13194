/**
 * ObjectStore: the one boundary between flexfs and where block objects live (a local folder, an
 * S3-compatible bucket, a proxy group). Objects are immutable blobs addressed by key; flexfs never
 * overwrites a key with different bytes, so no implementation needs read-after-overwrite logic.
 *
 * Errors: a missing key is `StoreError` with kind 'NotFound'; every other failure is a StoreError
 * with a kind the retry decorator and the VFS understand. Messages never contain credentials.
 */
export interface ObjectStore {
  /** Human-readable location for logs, e.g. `file:///var/flexfs/blocks` or `s3://bucket/prefix`. No secrets. */
  readonly description: string;
  put(key: string, body: Buffer, options?: PutOptions): Promise<void>;
  /** Whole object, or `range` (inclusive start, exclusive end clipped to the object size). */
  get(key: string, options?: GetOptions): Promise<Buffer>;
  /** Size of the object, or null when it does not exist. */
  head(key: string, options?: RequestOptions): Promise<ObjectInfo | null>;
  /** Deleting a missing key is not an error. */
  delete(key: string, options?: RequestOptions): Promise<void>;
  /** One page of keys under `prefix`, in lexicographic order; pass `page.next` back to continue. */
  list(prefix: string, options?: ListOptions): Promise<ListPage>;
  /** Release sockets/handles. */
  close(): Promise<void>;
}

export interface RequestOptions {
  /** Abort the request when this signal fires (deadlines are built from it). */
  signal?: AbortSignal;
}
export interface PutOptions extends RequestOptions {
  /**
   * Ask for server-side encryption (SSE-S3) of this object even when the store was opened
   * without `sse` (a proxy passing on what the mount asked for). Stores without server-side
   * encryption (file://) ignore it.
   */
  sse?: boolean;
  /**
   * Told what the store that took the object reported about it (S3: its PUT answer; a proxy
   * group: the proxy's answer). Stores that report nothing (file://) never call it.
   */
  onStored?: (report: PutReport) => void;
}
/** What a store said about a stored object. */
export interface PutReport {
  /** `x-amz-server-side-encryption` of the answer (e.g. AES256), absent when the store sent none. */
  sse?: string;
  /** Who answered, for messages (no credentials): `s3://bucket at http://host:port`, `proxy host:port`. */
  where: string;
}
export interface GetOptions extends RequestOptions {
  range?: { start: number; end: number };
}
export interface ListOptions extends RequestOptions {
  /** Continuation token from the previous page. */
  after?: string;
  /** Max keys per page (default 1000). */
  limit?: number;
}
export interface ObjectInfo {
  key: string;
  size: number;
  /** Last-modified time in ms since the epoch (used by gc safety ages). */
  mtimeMs: number;
}
export interface ListPage {
  objects: ObjectInfo[];
  /** Present when more keys follow. */
  next?: string;
}

export type StoreErrorKind =
  | 'NotFound'        // key does not exist
  | 'NoSuchBucket'    // bucket / folder missing
  | 'AccessDenied'    // credentials rejected or not allowed
  | 'InvalidRequest'  // the store refused the request as malformed (e.g. SSE not supported)
  | 'Throttled'       // 503 SlowDown / 429: retry
  | 'Unavailable'     // 5xx, connection refused/reset, DNS: retry
  | 'Timeout'         // per-request deadline passed: retry
  | 'Aborted'         // caller's signal fired: do not retry
  | 'Corrupt'         // bytes fail verification (raised above the store, by the codec)
  | 'Other';

/** Failure from an ObjectStore. `retryable` tells the retry decorator whether to try again. */
export class StoreError extends Error {
  readonly kind: StoreErrorKind;
  readonly key?: string;
  readonly status?: number;
  constructor(kind: StoreErrorKind, message: string, options?: { key?: string; status?: number; cause?: unknown }) {
    super(message, { cause: options?.cause });
    this.name = 'StoreError';
    this.kind = kind;
    this.key = options?.key;
    this.status = options?.status;
  }
  get retryable(): boolean {
    return this.kind === 'Throttled' || this.kind === 'Unavailable' || this.kind === 'Timeout';
  }
}

export function isNotFound(e: unknown): boolean {
  return e instanceof StoreError && e.kind === 'NotFound';
}
