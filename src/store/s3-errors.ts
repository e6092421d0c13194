import { StoreError } from './types.js';

/** What the mapper needs to know about the failed request. */
export interface S3ErrorContext {
  op: 'put' | 'get' | 'head' | 'delete' | 'list';
  key?: string;
  bucket: string;
  endpoint: string;
  sse: boolean;
  /** Our per-request deadline fired (as opposed to the caller's signal). */
  timedOut: boolean;
  /** The caller's signal fired. */
  callerAborted: boolean;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH',
  'ECONNABORTED', 'ETIMEDOUT', 'ERR_SOCKET_CONNECTION_TIMEOUT', 'EPROTO', 'UND_ERR_SOCKET',
]);

/**
 * Turn an SDK/network failure into a StoreError with a kind and a message an operator can act on.
 * Messages are built here from the error's name/code/status only, never from SDK text or request
 * data, so no credential can leak into them; the raw error is not attached as `cause` for the same
 * reason (SDK errors carry request metadata).
 */
export function mapS3Error(e: unknown, ctx: S3ErrorContext): StoreError {
  if (e instanceof StoreError) return e;
  const err = (e ?? {}) as {
    name?: string; code?: string; Code?: string; errno?: string;
    $metadata?: { httpStatusCode?: number }; $fault?: string; cause?: { code?: string };
  };
  const name = String(err.Code ?? err.name ?? '');
  const status = err.$metadata?.httpStatusCode;
  const netCode = [err.code, err.errno, err.cause?.code].find((c) => typeof c === 'string' && NETWORK_CODES.has(c));
  const what = ctx.key !== undefined ? `${ctx.op} s3://${ctx.bucket}/${ctx.key}` : `${ctx.op} s3://${ctx.bucket}`;
  const opts = { key: ctx.key, status };
  const tag = [name, status].filter((x) => x !== undefined && x !== '').join(' ');

  if (ctx.callerAborted) return new StoreError('Aborted', `${what}: aborted by caller`, opts);
  if (ctx.timedOut || name === 'TimeoutError' || name === 'RequestTimeout' || name === 'RequestTimeoutException') {
    return new StoreError('Timeout', `${what}: no answer from ${ctx.endpoint} within the request timeout`, opts);
  }
  if (name === 'AbortError') return new StoreError('Aborted', `${what}: aborted`, opts);
  if (netCode) {
    return new StoreError('Unavailable',
      `${what}: cannot reach the object store at ${ctx.endpoint} (${netCode}); check the endpoint address and that the service is running`, opts);
  }
  if (name === 'FlexfsCredentialsError') {
    return new StoreError('AccessDenied', `${what}: ${(e as Error).message}`, opts);
  }
  if (name === 'CredentialsProviderError' || name === 'ProviderError') {
    return new StoreError('AccessDenied',
      `${what}: no bucket credentials found (blockUser/blockPass empty, no EC2 instance role, nothing in the default AWS chain)`, opts);
  }
  switch (name) {
    case 'NoSuchKey':
      return new StoreError('NotFound', `${what}: no such object`, opts);
    case 'NoSuchBucket':
      return new StoreError('NoSuchBucket', `${what}: bucket "${ctx.bucket}" does not exist at ${ctx.endpoint}`, opts);
    case 'AccessDenied':
    case 'InvalidAccessKeyId':
    case 'SignatureDoesNotMatch':
    case 'InvalidToken':
    case 'ExpiredToken':
    case 'AllAccessDisabled':
    case 'AccountProblem':
      return new StoreError('AccessDenied',
        `${what}: access denied by ${ctx.endpoint} (${name}); check the bucket credentials (blockUser/blockPass or the role) and the bucket policy`, opts);
    case 'SlowDown':
    case 'Throttling':
    case 'ThrottlingException':
    case 'TooManyRequests':
    case 'RequestLimitExceeded':
      return new StoreError('Throttled', `${what}: throttled by ${ctx.endpoint} (${tag})`, opts);
    case 'InvalidRange':
      return new StoreError('InvalidRequest', `${what}: range not satisfiable`, opts);
  }
  if (status === 404) {
    // HEAD answers carry no body, so a missing key or bucket is just "NotFound 404".
    return new StoreError('NotFound', `${what}: no such object`, opts);
  }
  if (status === 403) {
    return new StoreError('AccessDenied',
      `${what}: access denied by ${ctx.endpoint} (${tag}); check the bucket credentials and policy`, opts);
  }
  if (status === 429 || (status === 503 && name === 'SlowDown')) {
    return new StoreError('Throttled', `${what}: throttled by ${ctx.endpoint} (${tag})`, opts);
  }
  if (status !== undefined && status >= 500) {
    return new StoreError('Unavailable', `${what}: ${ctx.endpoint} answered ${tag}`, opts);
  }
  if (status === 400 && ctx.op === 'put' && ctx.sse && (name === 'InvalidRequest' || name === 'InvalidArgument' || name === 'NotImplemented')) {
    return new StoreError('InvalidRequest',
      `${what}: the object store at ${ctx.endpoint} refused server-side encryption (SSE-S3, x-amz-server-side-encryption: AES256) with ${tag}; mount without the sse option (or enable SSE-S3 on the store)`, opts);
  }
  if (status !== undefined && status >= 400) {
    return new StoreError('InvalidRequest', `${what}: ${ctx.endpoint} refused the request (${tag})`, opts);
  }
  if (err.$fault === undefined && status === undefined && name !== '') {
    // Not an HTTP answer: a local failure (bad response stream, deserialization…).
    return new StoreError('Unavailable', `${what}: request to ${ctx.endpoint} failed (${name})`, opts);
  }
  return new StoreError('Other', `${what}: request to ${ctx.endpoint} failed${tag ? ` (${tag})` : ''}`, opts);
}
