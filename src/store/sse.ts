import { StoreError, type ObjectStore, type PutReport } from './types.js';

/**
 * Server-side encryption (SSE-S3) that is really applied. A PUT with
 * `x-amz-server-side-encryption: AES256` is answered with the same header by a store that
 * encrypted the object; some S3-compatible stores accept the header and ignore it. `--sse` asks
 * for SSE and warns (once) when an answer lacks the header; `--sse=require` refuses such writes.
 */
export type SseMode = 'off' | 'on' | 'require';

/**
 * The value of `--sse` / `-o sse` as the CLI hands it over: absent or false → off, bare → on,
 * `require` → require. Anything else is an error naming the flag.
 */
export function parseSseMode(value: unknown, flag = '--sse'): SseMode {
  if (value === undefined || value === false) return 'off';
  if (value === true) return 'on';
  if (value === 'require') return 'require';
  throw new Error(`${flag}=${String(value)}: unknown value; use ${flag} (ask for SSE-S3, warn when the store does not apply it) `
    + `or ${flag}=require (refuse to write blocks the store did not encrypt)`);
}

/** What happened at a PUT the store did not encrypt (for a log line and a counter). */
export interface SseNotApplied {
  /** Who answered, without credentials (S3 endpoint and bucket, or the proxy). */
  where: string;
  /** The first such PUT of this store: the one to log. */
  first: boolean;
  /** --sse=require: the write was refused. */
  refused: boolean;
  /** What to tell the operator: what happened and what to do. */
  message: string;
}

export interface SseCheckOptions {
  /**
   * 'on' checks every PUT, 'require' also refuses those not encrypted, 'off' checks only PUTs
   * that ask for SSE themselves (`PutOptions.sse`, e.g. a mount asking a proxy), as 'on'.
   */
  mode: SseMode;
  onNotApplied?: (event: SseNotApplied) => void;
}

export interface SseCheckedStore extends ObjectStore {
  /** PUTs that asked for SSE and were answered without it (the sse_not_applied metric). */
  readonly sseNotApplied: number;
}

/**
 * A PUT refused because the store did not apply SSE under --sse=require (here or at a proxy):
 * definitive, never retried; what recovery tells apart from an outage.
 */
export class SseRefusedError extends StoreError {
  constructor(message: string, options?: { key?: string; status?: number }) {
    super('InvalidRequest', message, options);
    this.name = 'SseRefusedError';
  }
}

/** The operator-facing explanation, logged once per process and store. */
export function sseNotAppliedMessage(where: string, refused: boolean): string {
  const what = `${where} did not apply server-side encryption (its PUT answer has no x-amz-server-side-encryption header; `
    + 'some S3-compatible stores accept the header and ignore it)';
  return refused
    ? `${what}: --sse=require refuses to store blocks unencrypted, so writes fail (EIO) until SSE-S3 is enabled on the store; `
      + 'run with plain --sse to write anyway'
    : `${what}: blocks are stored UNENCRYPTED at rest. Enable SSE-S3 (AES256) on the store, or run with --sse=require to refuse `
      + 'such writes; end-to-end encryption (a volume secret) does not depend on the store';
}

/**
 * Decorator that checks each SSE PUT's answer (reported by the store through `onStored`): one that
 * was not encrypted is counted and told to `onNotApplied`; with 'require' it is deleted again
 * (best effort) and the PUT fails with a definitive StoreError (InvalidRequest, never retried).
 * Put it outside the retry decorator and the proxy group, so each PUT is judged once.
 */
export function withSseCheck(inner: ObjectStore, o: SseCheckOptions): SseCheckedStore {
  let notApplied = 0;
  return {
    description: inner.description,
    get sseNotApplied() { return notApplied; },
    async put(key, body, options) {
      if (o.mode === 'off' && !options?.sse) return inner.put(key, body, options);
      let report: PutReport | undefined;
      await inner.put(key, body, { ...options, onStored: (r) => { report = r; options?.onStored?.(r); } });
      const answered = report as PutReport | undefined;
      if (answered?.sse) return;
      notApplied++;
      const where = answered?.where ?? inner.description;
      const refused = o.mode === 'require';
      o.onNotApplied?.({ where, first: notApplied === 1, refused, message: sseNotAppliedMessage(where, refused) });
      if (!refused) return;
      // The object is in the bucket unencrypted and nothing will reference it: remove it.
      await inner.delete(key).catch(() => undefined);
      throw new SseRefusedError(
        `put ${key}: ${where} did not apply server-side encryption (no x-amz-server-side-encryption in its answer); `
        + '--sse=require refuses to store blocks unencrypted', { key });
    },
    get: (key, options) => inner.get(key, options),
    head: (key, options) => inner.head(key, options),
    delete: (key, options) => inner.delete(key, options),
    list: (prefix, options) => inner.list(prefix, options),
    close: () => inner.close(),
  };
}
