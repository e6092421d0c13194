/**
 * The defaults table: every tunable default of every component, in one file. Timeouts whose
 * order matters are in TIMEOUTS (src/config/defaults.test.ts checks their nesting); then one table
 * per component (mount VFS and caches, FUSE, block store, RPC client, meta.flexfs, proxy.flexfs,
 * volumes, operator jobs). Modules take their defaults from here (never an inline `?? 30_000`),
 * and each binary's `--help` prints them from here. Format limits and protocol constants (frame
 * sizes, NAME_MAX…) are not defaults and stay with their code.
 * A leaf module: it imports nothing, so every layer can use it.
 */

const SECOND = 1000;
const MiB = 2 ** 20;

/** Timeouts and deadlines, in milliseconds. Where each is applied is named beside it. */
export const TIMEOUTS = {
  /** One S3 request, reading the body included; starts once a concurrency slot is held (store/s3.ts). */
  s3RequestMs: 30 * SECOND,
  /** One attempt of the retry decorator; a hung attempt is cut off as Timeout (store/retry.ts). */
  retryAttemptMs: 60 * SECOND,
  /** One retried store call, all attempts and backoff included (store/retry.ts). */
  retryDeadlineMs: 120 * SECOND,
  /** One request to one proxy of a proxy group before it fails over (proxy/group.ts). */
  proxyRequestMs: 30 * SECOND,
  /** How long a failed proxy is skipped by the group (proxy/group.ts). Not a deadline. */
  proxyCoolDownMs: 30 * SECOND,
  /** A proxy's own call to its bucket (proxy/server.ts). */
  proxyUpstreamMs: 60 * SECOND,
  /**
   * One block PUT by the VFS, the store's retries included; also the dirty-budget wait (vfs/).
   * Long enough to ride out a bucket outage of minutes (`mount.flexfs start --storeDeadline`);
   * the mount's retry decorator gets the same deadline (mount/block-store.ts).
   */
  blockPutDeadlineMs: 5 * 60 * SECOND,
  /** One block GET by the VFS, the store's retries included (vfs/; `--storeDeadline` too). */
  blockGetDeadlineMs: 5 * 60 * SECOND,
  /** One metadata call by the VFS (vfs/). */
  metaDeadlineMs: 60 * SECOND,
  /** One RPC call to meta.flexfs, reconnects included (meta/client/rpc-client.ts). */
  rpcCallMs: 60 * SECOND,
  /** Safety net per FUSE operation: unanswered after this, the kernel gets EIO (fuse/lowlevel). */
  fuseOpMs: 600 * SECOND,
  /**
   * At SIGTERM/SIGINT, how long the mount waits for its detached FUSE session to end (files still
   * held open keep it alive) before it flushes and exits anyway (cli/mount/start.ts). Not a deadline.
   */
  unmountGraceMs: 2 * SECOND,
  /** TCP connect to S3 (store/s3.ts). Not in the nesting: it is part of one S3 request. */
  s3ConnectMs: 5 * SECOND,
  /** The EC2 instance metadata service, for ambient credentials (store/s3-credentials.ts). */
  imdsMs: 1 * SECOND,
  /** One connection attempt to meta.flexfs, TLS and hello included (meta/client/rpc-client.ts). */
  rpcConnectMs: 10 * SECOND,
  /** A peer of a flexfs TLS listener must finish its handshake within this (util/listener-limits.ts). */
  tlsHandshakeMs: 5 * SECOND,
  /** meta.flexfs connecting to redis at start (meta/engines/redis-connect.ts). */
  redisConnectMs: 20 * SECOND,
  /**
   * redis+sentinel: how long one metadata operation keeps retrying while the primary is gone
   * (connection errors, READONLY) before it fails with EIO (meta/engines/redis-failover.ts).
   */
  redisFailoverWaitMs: 30 * SECOND,
  /** redis+sentinel: one `WAIT minReplicas` after a mutation, before it is acknowledged. */
  redisReplicaWaitMs: 5 * SECOND,
  /** sqlite waits this long for a lock held by another process (meta/engines/sqlite*.ts). */
  sqliteBusyMs: 30 * SECOND,
  /** The mount's start-up check that its block store answers (mount/stack.ts, --skipStoreCheck). */
  storeCheckMs: 15 * SECOND,
  /** How often a mount rewrites its status file for `flexfs status` (ops/mount-telemetry.ts). */
  statusIntervalMs: 5 * SECOND,
} as const;

export type TimeoutName = keyof typeof TIMEOUTS;

/**
 * Which deadline runs inside which, as the code nests them today. `inner` is one stage or
 * several stages run one after another (their sum must fit); each inner total must be strictly
 * below its outer deadline, or the outer one fires first and the inner one never matters.
 * `inverted` marks a pair that breaks this today, with what happens instead: kept as data so the
 * test pins it (fixing one makes the test say so) and nobody adds another unnoticed.
 */
export interface Nesting {
  inner: TimeoutName[];
  outer: TimeoutName;
  where: string;
  inverted?: string;
}

export const DEADLINE_NESTING: Nesting[] = [
  { inner: ['s3RequestMs'], outer: 'retryAttemptMs', where: 'retry decorator around the S3 store' },
  { inner: ['retryAttemptMs'], outer: 'retryDeadlineMs', where: 'attempts of one retried call' },
  { inner: ['s3RequestMs'], outer: 'blockPutDeadlineMs', where: 'VFS block PUT over the retried S3 store: a hung request leaves time for another' },
  { inner: ['s3RequestMs'], outer: 'blockGetDeadlineMs', where: 'VFS block GET over the retried S3 store' },
  { inner: ['proxyRequestMs'], outer: 'blockPutDeadlineMs', where: 'VFS block PUT through a proxy group: a hung proxy leaves time for the next or the bucket' },
  { inner: ['proxyRequestMs'], outer: 'blockGetDeadlineMs', where: 'VFS block GET through a proxy group' },
  // A mount's retry decorator takes the VFS deadline as its own (retryDeadlineMs is the default
  // of callers without one: gc, fsck), so only its attempts nest in the VFS deadline.
  { inner: ['retryAttemptMs'], outer: 'blockPutDeadlineMs', where: 'VFS block PUT over the retry decorator: a hung attempt leaves time for others' },
  { inner: ['retryAttemptMs'], outer: 'blockGetDeadlineMs', where: 'VFS block GET over the retry decorator' },
  {
    inner: ['rpcCallMs'], outer: 'metaDeadlineMs', where: 'VFS metadata call over the RPC client',
    inverted: 'equal (60 s): whichever timer fires first decides the error',
  },
  {
    inner: ['proxyUpstreamMs'], outer: 'proxyRequestMs', where: 'a proxy serving a group member (two processes)',
    inverted: 'the member fails over after 30 s while its proxy still waits up to 60 s for the bucket',
  },
  { inner: ['blockGetDeadlineMs', 'metaDeadlineMs'], outer: 'fuseOpMs', where: 'FUSE read: block map lookup, then block GET' },
  { inner: ['blockPutDeadlineMs'], outer: 'fuseOpMs', where: 'FUSE write waiting for the dirty budget' },
  { inner: ['blockPutDeadlineMs', 'metaDeadlineMs'], outer: 'fuseOpMs', where: 'FUSE flush/fsync: uploads (in parallel), then the commit' },
  { inner: ['rpcCallMs'], outer: 'fuseOpMs', where: 'any FUSE op waiting on meta.flexfs' },
  { inner: ['s3ConnectMs'], outer: 's3RequestMs', where: 'the TCP connect of one S3 request' },
  { inner: ['imdsMs'], outer: 's3RequestMs', where: 'ambient credentials fetched for an S3 request' },
  { inner: ['rpcConnectMs'], outer: 'rpcCallMs', where: 'an RPC call waiting for a reconnect: one attempt leaves time for another' },
  { inner: ['redisFailoverWaitMs', 'redisReplicaWaitMs'], outer: 'rpcCallMs', where: 'a meta.flexfs op on redis+sentinel riding out a failover, then waiting for its replica, inside the mount\'s RPC call' },
  { inner: ['sqliteBusyMs'], outer: 'metaDeadlineMs', where: 'a --local metadata call waiting on a sqlite lock' },
];

/** Mount-side (VFS) defaults; sizes in bytes, times in ms. */
export const VFS_DEFAULTS = {
  dirtyBytes: 256 * MiB,
  diskQuota: 1024 * MiB,
  attrTtlMs: 1000,
  putDeadlineMs: TIMEOUTS.blockPutDeadlineMs,
  getDeadlineMs: TIMEOUTS.blockGetDeadlineMs,
  metaDeadlineMs: TIMEOUTS.metaDeadlineMs,
  idBatch: 64,
  /** Names the complete directory listings kept by a mount may hold in all (vfs/listings.ts). */
  listingsMaxEntries: 200_000,
} as const;

/**
 * Listings fetched ahead of a tree walker (vfs/listing-prefetch.ts), only while the mount hears
 * other mounts' changes: when a directory listed is itself a subdirectory of a listing read
 * moments before (`find`, `du`, `ls -R`), up to perDir of its subdirectories and of its siblings
 * are listed in the background, concurrency at a time, newest first; at most queue wait.
 */
export const LISTING_PREFETCH_DEFAULTS = {
  concurrency: 4,
  perDir: 64,
  queue: 512,
  /** A listing read this long ago still makes its subdirectories part of a walk. */
  walkWindowMs: 10_000,
} as const;

/**
 * Files fetched ahead of a reader that walks a directory's files in listing order (`grep -r`,
 * `cat *`, `cp -r`, `tar c`; vfs/file-prefetch.ts): once two consecutive regular files of one
 * listing were opened for reading, the first firstBytes of the next `ahead` files are fetched in
 * the background (block map, then the blocks into the memory cache), concurrency files at once.
 * Block objects never change, so what is fetched can never be stale: it is only memory and
 * requests, bounded by READAHEAD_DEFAULTS.inFlightBytes. `maxTracked`: files remembered from
 * listings (past it, the oldest listings are forgotten). A file's whole block map fetched so is
 * handed to its open if the file is unchanged by then (`mapsKept` at most wait for their opens).
 */
export const FILE_PREFETCH_DEFAULTS = {
  ahead: 8,
  concurrency: 4,
  firstBytes: 4 * MiB,
  maxTracked: 100_000,
  mapsKept: 256,
} as const;

/**
 * Readahead of sequential readers (vfs/readahead.ts, vfs/parts.ts, vfs/blockio.ts). One reader's
 * window doubles from one block up to the smallest of maxBlocks, maxBytes and cacheShare of the
 * memory cache (prefetched blocks wait there: a larger window would evict them before they are
 * read). inFlightBytes bounds the prefetch GETs of all readers of a mount together (also at most
 * cacheShare of the memory cache); a prefetch past it is skipped, and asked again by the next read.
 */
export const READAHEAD_DEFAULTS = {
  maxBlocks: 8,
  maxBytes: 64 * MiB,
  cacheShare: 0.5,
  inFlightBytes: 64 * MiB,
} as const;

/**
 * Where a mount keeps the recovery folder of a volume (`<root>/<volume>`): dirty data it could
 * not upload by the deadline at unmount (src/recovery/, docs/FORMAT.md). With --diskFolder DIR:
 * DIR/recovery; else under FLEXFS_HOME when set; else root's state dir, or ~/.flexfs for others.
 */
export const RECOVERY_DEFAULTS = {
  diskFolderSubdir: 'recovery',
  homeSubdir: 'mount/recovery',
  rootDir: '/var/lib/flexfs/recovery',
} as const;

/**
 * Seconds the kernel may keep attributes, names, and the absence of names (--attrTTL, --entryTTL,
 * --negativeTTL); the mount's own metadata cache keeps them at least as long (never less than
 * VFS_DEFAULTS.attrTtlMs). `heard`: a mount on meta.flexfs while its session is connected, so
 * every other mount's change is pushed and dropped at once (coherent caching): long. `unheard`:
 * a `--local` mount (two mounts of one folder hear nothing of each other), and a meta.flexfs
 * mount while its connection is down (never longer, whatever the flags): close-to-open, names
 * kept a second.
 */
export const KERNEL_CACHE_DEFAULTS = {
  heard: { attr: 60, entry: 60, negative: 60 },
  unheard: { attr: 0, entry: 1, negative: 0 },
} as const;

/** How a mount talks to the kernel (src/fuse/kernel-mount.ts, src/fuse/lowlevel/session.ts). */
export const FUSE_DEFAULTS = {
  /** Largest read/write request in bytes (FUSE max_pages 256). */
  maxRequestBytes: MiB,
  /** libfuse threads reading /dev/fuse (none of them waits on JavaScript). */
  maxThreads: 4,
  /**
   * The kernel's readahead for the mount (its backing device's read_ahead_kb): the kernel's
   * default, 128 KiB, would cut every sequential read into 128 KiB requests; 4 MiB (one default
   * block) lets it send 1 MiB requests, several in flight.
   */
  readaheadKb: 4096,
} as const;

/** Memory block cache default: this share of RAM, clamped to [minBytes, maxBytes]. */
export const MEMORY_CACHE_DEFAULT = {
  ramFraction: 0.05,
  minBytes: 64 * MiB,
  maxBytes: 1024 * MiB,
} as const;

/** The block store (store/s3.ts, store/retry.ts, store/file.ts). */
export const STORE_DEFAULTS = {
  /** S3 requests in flight per store, and its HTTP connection pool. */
  s3MaxConcurrency: 64,
  /** Keys per page of a LIST (the S3 maximum). */
  listPageSize: 1000,
  /**
   * The retry decorator: attempts in total (unbounded: a deadline bounds the retries, not a count
   * of quick failures, so a refused connection for a minute is ridden out), first backoff
   * ceiling (doubling), backoff cap.
   */
  retryMaxAttempts: Infinity,
  retryBaseDelayMs: 100,
  retryMaxDelayMs: 5 * SECOND,
} as const;

/** A mount's connection to meta.flexfs (meta/client/rpc-client.ts): reconnect backoff. */
export const RPC_CLIENT_DEFAULTS = {
  backoffInitialMs: 100,
  backoffMaxMs: 5 * SECOND,
} as const;

/** Both TLS listeners, meta.flexfs and proxy.flexfs (util/listener-limits.ts). */
export const LISTENER_DEFAULTS = {
  /** Concurrent connections accepted; more are closed at accept. */
  maxConnections: 4096,
} as const;

/**
 * Shared locks (meta/core/locks.ts, vfs/locks.ts). A blocked F_SETLKW or flock retries when the
 * mount hears that the inode's locks changed, and at least every `retryMs` (the fallback for a
 * missed change and for locks freed by a session that expired). A waiter counts for deadlock
 * detection until `waitTtlMs` after its last retry, so it must exceed `retryMs`.
 */
export const LOCK_DEFAULTS = {
  retryMs: 1 * SECOND,
  waitTtlMs: 5 * SECOND,
} as const;

/** Metadata history (meta/history/, docs/METADATA.md "History"): page sizes of its internal walks. */
export const HISTORY_DEFAULTS = {
  /** Entries of a deleted directory read per page while recording them. */
  entryPage: 1000,
  /** A slot range read up to this long also tells which of its slots are holes (before-value: none). */
  knownHoleRange: 4096,
  /** redis: history groups pruned per round trip of gc (each one script). */
  pruneGroups: 500,
} as const;

/** Directory quotas (meta/core/quota.ts, quota-admin.ts). */
export const QUOTA_DEFAULTS = {
  /**
   * A rename of a directory between places under different quotas counts the directory's subtree
   * inside its transaction: at most this many inodes, else EXDEV (mv then copies and removes).
   */
  renameWalkInodes: 10_000,
  /** `quota set` counts the directory's subtree in one transaction: at most this many inodes. */
  setWalkInodes: 1_000_000,
  /** Directory entries read per page while counting a subtree or finding a directory's name. */
  walkPageEntries: 1000,
  /** Deepest parent chain a quota lookup follows (a damaged chain must not spin). */
  maxDepth: 100_000,
} as const;

/** meta.flexfs (meta/server/, cli/meta/). */
export const META_SERVER_DEFAULTS = {
  port: 8443,
  engine: 'sqlite',
  /**
   * The sqlite database folder (`--dbFolder` of start, gc, fsck, status), under FLEXFS_HOME:
   * ~/.flexfs/meta/db, /var/lib/flexfs/meta/db for the packaged units. The docs name this value
   * (src/config/docs-defaults.test.ts checks them).
   */
  dbSubfolder: 'meta/db',
  /** A session without heartbeats ends after this; mounts heartbeat every quarter of it. */
  sessionTtlSeconds: 60,
  /**
   * redis: how long a server may keep using a volume's capacity and inode limit after ANOTHER
   * server sharing the engine changed them (`volume update`); the server that made the change
   * applies it at once.
   */
  volumeLimitsRefreshMs: 10 * SECOND,
} as const;

/**
 * The redis engine on Redis Sentinel (`redis+sentinel://…`, meta/engines/redis-url.ts,
 * redis-failover.ts); the URL's `?minReplicas=`, `?replicaWaitMs=`, `?failoverWaitMs=` override.
 */
export const REDIS_SENTINEL_DEFAULTS = {
  /**
   * Replicas that must hold a mutation (redis WAIT) before it is acknowledged; fewer in time
   * answers EIO. 1: a failover to a replica that was in sync loses no acknowledged change.
   */
  minReplicas: 1,
  replicaWaitMs: TIMEOUTS.redisReplicaWaitMs,
  failoverWaitMs: TIMEOUTS.redisFailoverWaitMs,
  /** Pause between retries while the primary is gone; doubles up to maxRetryPauseMs. */
  retryPauseMs: 50,
  maxRetryPauseMs: 1 * SECOND,
} as const;

/** proxy.flexfs (proxy/, cli/proxy/). */
export const PROXY_DEFAULTS = {
  port: 9450,
  /** Disk cache quota: bytes, a size, or a share of the cache's filesystem. */
  diskQuota: '50%',
  /** Largest object body a proxy accepts (a mount's frames are at most 8 MiB and a header). */
  maxObjectBytes: 64 * MiB,
  /** GETs holding a frame in memory at once; bucket GETs at once; GETs waiting (then 503). */
  maxGets: 32,
  maxFetches: 16,
  maxQueuedGets: 1024,
  /** PUTs holding their body at once; PUTs waiting, body unread (then 503). */
  maxPuts: 16,
  maxQueuedPuts: 1024,
} as const;

/** New volumes (meta/core/admin.ts, `meta.flexfs volume create`). */
export const VOLUME_DEFAULTS = {
  blockSize: 4 * MiB,
  compression: 'lz4',
  /** Superseded blocks are kept this long before gc deletes them. */
  retentionSeconds: 86_400,
} as const;

/** Operator jobs (ops/gc.ts, ops/fsck.ts). */
export const OPS_DEFAULTS = {
  /** gc: parallel deletes; queued blocks taken per batch; unreferenced objects younger than this are left. */
  gcConcurrency: 16,
  gcBatch: 1000,
  orphanAgeSeconds: 86_400,
  /** fsck: problems listed per report (the count is always exact). */
  fsckMaxListed: 1000,
  /**
   * gc/fsck: how long one bucket request of a volume may take, retries included, before the job
   * gives that volume up (reports it, goes on with the next); like the retry decorator's deadline.
   */
  storeDeadlineSeconds: 120,
  /** flexfs warmup: blocks a mount fetches at once for it; flexfs stats: seconds between lines. */
  warmupConcurrency: 8,
  statsIntervalSeconds: 1,
  /** dump: directory entries read per transaction; load: records written per transaction. */
  dumpPageEntries: 500,
  loadBatchRecords: 1000,
  /** dump/load --progress on a non-TTY: one line per this many ms. */
  progressLineMs: 1000,
} as const;

/** Daemon logs (mount.flexfs, meta.flexfs, proxy.flexfs: --logFile, --logMaxSize, --logKeep; src/ops/log.ts). */
export const LOG_DEFAULTS = {
  /** A --logFile is rotated when the next line would take it past this many bytes. */
  maxSize: '64M',
  /** Rotated files kept beside the live one (FILE.1 newest … FILE.N oldest). */
  keep: 5,
  /** Mode of a --logFile the daemon creates (records carry no secrets; still owner-only). */
  fileMode: 0o600,
} as const;
