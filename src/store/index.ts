import type { BlockStoreSettings } from '../volume/settings.js';
import { FileObjectStore } from './file.js';
import { withPrefix } from './prefix.js';
import { withRetry, type RetryPolicy } from './retry.js';
import { S3ObjectStore, type S3StoreOptions } from './s3.js';
import { parseStoreUrl } from './url.js';
import type { ObjectStore } from './types.js';

export * from './types.js';
export { blockKey, parseBlockKey, volumeBlocksPrefix, validateKey } from './keys.js';
export { FileObjectStore } from './file.js';
export { S3ObjectStore, type S3StoreOptions } from './s3.js';
export { withPrefix } from './prefix.js';
export { withRetry, type RetryPolicy } from './retry.js';
export { withFaults, type FaultConfig, type FaultyStore, type StoreOp } from './faults.js';
export { parseStoreUrl, type StoreLocation } from './url.js';

/** Knobs that are not part of the volume's settings (process-level tuning). */
export interface OpenStoreOptions {
  /** Retry policy, or false for no retry decorator (default: the policy defaults). */
  retry?: RetryPolicy | false;
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
  maxConcurrency?: number;
  imdsTimeoutMs?: number;
}

/**
 * Open the store a volume's settings name: `file:///dir` or `s3://bucket/prefix` (+ endpoint,
 * region, pathStyle, sse, credentials). The retry decorator is applied on top. Throws an Error
 * naming the problem for a bad URL or endpoint; nothing is contacted until the first request.
 */
export function openStore(settings: BlockStoreSettings, opts: OpenStoreOptions = {}): ObjectStore {
  const loc = parseStoreUrl(settings.url);
  let store: ObjectStore;
  if (loc.scheme === 'file') {
    store = new FileObjectStore(loc.dir);
  } else {
    const s3: S3StoreOptions = {
      bucket: loc.bucket,
      endpoint: settings.endpoint || undefined,
      region: settings.region || undefined,
      pathStyle: settings.pathStyle,
      sse: settings.sse,
      // 'ambient' means: ignore handed-out keys, use this host's own chain.
      blockUser: settings.credentials === 'ambient' ? undefined : settings.blockUser,
      blockPass: settings.credentials === 'ambient' ? undefined : settings.blockPass,
      assumeRoleArn: settings.assumeRoleArn || undefined,
      stsEndpoint: settings.stsEndpoint || undefined,
      requestTimeoutMs: opts.requestTimeoutMs,
      connectTimeoutMs: opts.connectTimeoutMs,
      maxConcurrency: opts.maxConcurrency,
      imdsTimeoutMs: opts.imdsTimeoutMs,
    };
    store = withPrefix(new S3ObjectStore(s3), loc.prefix);
  }
  return opts.retry === false ? store : withRetry(store, opts.retry ?? {});
}
export { withMetrics } from './metrics.js';
export { withSseCheck, parseSseMode, SseRefusedError, sseNotAppliedMessage, type SseMode, type SseCheckedStore, type SseNotApplied } from './sse.js';
