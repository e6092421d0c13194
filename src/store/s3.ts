import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import {
  CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command,
  PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { credentialProvider, describeCredentialSource } from './s3-credentials.js';
import { mapS3Error, type S3ErrorContext } from './s3-errors.js';
import { hideUserInfo } from './redact.js';
import { Semaphore } from './semaphore.js';
import { validateKey } from './keys.js';
import type {
  GetOptions, ListOptions, ListPage, ObjectInfo, ObjectStore, PutOptions, RequestOptions,
} from './types.js';
import { STORE_DEFAULTS, TIMEOUTS } from '../config/defaults.js';

// flexfs targets Node 20 on purpose; the SDK's "will need Node 22" start-up warning is noise in
// daemon logs. An operator can still turn it back on by setting the variable to anything else.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export interface S3StoreOptions {
  bucket: string;
  /** `http(s)://host:port`; absent means AWS S3 for `region`. A bare `host:port` gets https://. */
  endpoint?: string;
  region?: string;
  /** Default: true unless the endpoint is AWS (host ends in amazonaws.com) or absent. */
  pathStyle?: boolean;
  /** Add `x-amz-server-side-encryption: AES256` to every PUT. */
  sse?: boolean;
  blockUser?: string;
  blockPass?: string;
  assumeRoleArn?: string;
  stsEndpoint?: string;
  /** Deadline of one request, including reading the body (default 30 s). */
  requestTimeoutMs?: number;
  /** TCP/TLS connect deadline (default 5 s). */
  connectTimeoutMs?: number;
  /** Requests in flight at once; also the socket pool size (default 64). */
  maxConcurrency?: number;
  /** IMDS timeout when falling back to the instance role (default 1 s). */
  imdsTimeoutMs?: number;
}

/** Normalise an endpoint: add a scheme when missing, drop a trailing slash. */
export function normalizeEndpoint(endpoint: string): string {
  const raw = endpoint.trim();
  // Never echo user info (user:secret@) back in a message.
  const shown = hideUserInfo(raw);
  const bad = (why: string) => new Error(`invalid S3 endpoint "${shown}": ${why}`);
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw);
  const withScheme = hasScheme ? raw : `https://${raw}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw bad('expected http(s)://host[:port]');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw bad('scheme must be http or https');
  if (u.username || u.password) throw bad('credentials do not belong in the endpoint URL');
  if (!u.hostname) throw bad('no host');
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash) throw bad('expected no path, only http(s)://host[:port]');
  return `${u.protocol}//${u.host}`;
}

/** Path-style addressing for every endpoint that is not AWS (DESIGN §7). */
export function defaultPathStyle(endpoint: string | undefined): boolean {
  if (!endpoint) return false;
  return !new URL(normalizeEndpoint(endpoint)).hostname.toLowerCase().endsWith('amazonaws.com');
}

/**
 * S3 / S3-compatible bucket via @aws-sdk/client-s3. SDK retries are off (maxAttempts 1): the
 * withRetry decorator owns retries. Each request waits for one of `maxConcurrency` slots, then
 * runs under a deadline (an AbortSignal started once the slot is held, plus the HTTP handler's
 * connect timeout).
 */
export class S3ObjectStore implements ObjectStore {
  readonly description: string;
  readonly bucket: string;
  readonly endpoint: string;
  private readonly client: S3Client;
  private readonly sse: boolean;
  private readonly requestTimeoutMs: number;
  private readonly slots: Semaphore;

  constructor(o: S3StoreOptions) {
    if (!o.bucket || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/i.test(o.bucket) && !/^[A-Za-z0-9._-]{1,255}$/.test(o.bucket)) {
      throw new Error(`invalid bucket name "${o.bucket}"`);
    }
    const region = o.region || process.env.AWS_REGION || 'us-east-1';
    const endpoint = o.endpoint ? normalizeEndpoint(o.endpoint) : undefined;
    this.bucket = o.bucket;
    this.endpoint = endpoint ?? `https://s3.${region}.amazonaws.com`;
    this.sse = !!o.sse;
    this.requestTimeoutMs = o.requestTimeoutMs ?? TIMEOUTS.s3RequestMs;
    const maxConcurrency = o.maxConcurrency ?? STORE_DEFAULTS.s3MaxConcurrency;
    this.slots = new Semaphore(maxConcurrency);
    this.description = `s3://${o.bucket} at ${this.endpoint}${this.sse ? ' (sse)' : ''}`;
    const agentOpts = { keepAlive: true, maxSockets: maxConcurrency };
    this.client = new S3Client({
      region,
      endpoint,
      forcePathStyle: o.pathStyle ?? defaultPathStyle(endpoint),
      credentials: credentialProvider({
        blockUser: o.blockUser, blockPass: o.blockPass, assumeRoleArn: o.assumeRoleArn,
        stsEndpoint: o.stsEndpoint, region, imdsTimeoutMs: o.imdsTimeoutMs,
      }),
      maxAttempts: 1,
      // Newer SDKs add CRC trailers to every PUT; S3-compatible stores (RGW) may not know them.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: new NodeHttpHandler({
        connectionTimeout: o.connectTimeoutMs ?? TIMEOUTS.s3ConnectMs,
        httpAgent: new HttpAgent(agentOpts),
        httpsAgent: new HttpsAgent(agentOpts),
      }),
    });
  }

  /** Where the credentials come from, for start-up logs (no values). */
  static credentialSource(o: S3StoreOptions): string {
    return describeCredentialSource(o);
  }

  async put(key: string, body: Buffer, options?: PutOptions): Promise<void> {
    validateKey(key);
    const sse = this.sse || !!options?.sse;
    const res = await this.run('put', key, options, (abortSignal) => this.client.send(new PutObjectCommand({
      Bucket: this.bucket, Key: key, Body: body, ContentLength: body.length,
      ...(sse ? { ServerSideEncryption: 'AES256' as const } : {}),
    }), { abortSignal }), sse);
    // The SDK fills ServerSideEncryption from the answer's x-amz-server-side-encryption header:
    // whether the store really encrypted the object (withSseCheck acts on it).
    options?.onStored?.({ sse: res.ServerSideEncryption || undefined, where: `s3://${this.bucket} at ${this.endpoint}` });
  }

  async get(key: string, options?: GetOptions): Promise<Buffer> {
    validateKey(key);
    const range = options?.range;
    if (range && range.end <= range.start) {
      // Nothing to read, but a missing key must still be NotFound.
      if (!(await this.head(key, options))) {
        throw mapS3Error({ name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } }, this.ctx('get', key));
      }
      return Buffer.alloc(0);
    }
    try {
      return await this.run('get', key, options, async (abortSignal) => {
        const res = await this.client.send(new GetObjectCommand({
          Bucket: this.bucket, Key: key, ...(range ? { Range: `bytes=${range.start}-${range.end - 1}` } : {}),
        }), { abortSignal });
        if (!res.Body) return Buffer.alloc(0);
        const bytes = await res.Body.transformToByteArray();
        return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      });
    } catch (e) {
      // A range starting at or past the end: the object exists, there is nothing in the range.
      if ((e as { status?: number }).status === 416) return Buffer.alloc(0);
      throw e;
    }
  }

  async head(key: string, options?: RequestOptions): Promise<ObjectInfo | null> {
    validateKey(key);
    try {
      return await this.run('head', key, options, async (abortSignal) => {
        const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal });
        return { key, size: Number(res.ContentLength ?? 0), mtimeMs: res.LastModified?.getTime() ?? 0 };
      });
    } catch (e) {
      if ((e as { kind?: string }).kind === 'NotFound') return null;
      throw e;
    }
  }

  async delete(key: string, options?: RequestOptions): Promise<void> {
    validateKey(key);
    try {
      await this.run('delete', key, options, (abortSignal) =>
        this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal }));
    } catch (e) {
      if ((e as { kind?: string }).kind === 'NotFound') return;
      throw e;
    }
  }

  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    return this.run('list', undefined, options, async (abortSignal) => {
      const res = await this.client.send(new ListObjectsV2Command({
        Bucket: this.bucket, Prefix: prefix || undefined, MaxKeys: Math.max(1, options?.limit ?? STORE_DEFAULTS.listPageSize),
        ContinuationToken: options?.after,
      }), { abortSignal });
      const objects: ObjectInfo[] = (res.Contents ?? []).map((c) => ({
        key: c.Key ?? '', size: Number(c.Size ?? 0), mtimeMs: c.LastModified?.getTime() ?? 0,
      }));
      return res.IsTruncated && res.NextContinuationToken ? { objects, next: res.NextContinuationToken } : { objects };
    });
  }

  /** Create the bucket (for tests and volume set-up); an existing bucket we own is fine. */
  async createBucket(options?: RequestOptions): Promise<void> {
    try {
      await this.run('put', undefined, options, (abortSignal) =>
        this.client.send(new CreateBucketCommand({ Bucket: this.bucket }), { abortSignal }));
    } catch (e) {
      if ((e as { status?: number }).status === 409) return; // BucketAlreadyOwnedByYou / Exists
      throw e;
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private ctx(op: S3ErrorContext['op'], key: string | undefined, timedOut = false, callerAborted = false, sse = this.sse): S3ErrorContext {
    return { op, key, bucket: this.bucket, endpoint: this.endpoint, sse, timedOut, callerAborted };
  }

  /**
   * One request: wait for a slot (the caller's signal can end the wait), then run under caller
   * signal + deadline, map failures. The deadline starts once the slot is held, so time spent
   * queued behind other requests never counts against it.
   */
  private async run<T>(op: S3ErrorContext['op'], key: string | undefined, options: RequestOptions | undefined,
    fn: (signal: AbortSignal) => Promise<T>, sse = this.sse): Promise<T> {
    const caller = options?.signal;
    let deadline: AbortSignal | undefined;
    let release: (() => void) | undefined;
    try {
      release = await this.slots.acquire(caller);
      deadline = AbortSignal.timeout(this.requestTimeoutMs);
      return await fn(caller ? AbortSignal.any([caller, deadline]) : deadline);
    } catch (e) {
      throw mapS3Error(e, this.ctx(op, key, !!deadline?.aborted && !caller?.aborted, !!caller?.aborted, sse));
    } finally {
      release?.();
    }
  }
}
