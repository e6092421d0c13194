// The mapper is a pure function: these cases cover answers a live RGW cannot easily be made to give.
import { describe, expect, it } from 'vitest';
import { mapS3Error, type S3ErrorContext } from '../../src/store/s3-errors.js';
import { defaultPathStyle, normalizeEndpoint } from '../../src/store/s3.js';

const ctx: S3ErrorContext = {
  op: 'get', key: 'k', bucket: 'b', endpoint: 'http://s3.example:9000', sse: false, timedOut: false, callerAborted: false,
};
const http = (name: string, status: number) => Object.assign(new Error('server text with secret=hunter2'), { name, $metadata: { httpStatusCode: status }, $fault: 'server' });

describe('mapS3Error', () => {
  it('maps by name and status', () => {
    expect(mapS3Error(http('InternalError', 500), ctx).kind).toBe('Unavailable');
    expect(mapS3Error(http('ServiceUnavailable', 503), ctx).kind).toBe('Unavailable');
    expect(mapS3Error(http('SlowDown', 503), ctx).kind).toBe('Throttled');
    expect(mapS3Error(http('TooManyRequests', 429), ctx).kind).toBe('Throttled');
    expect(mapS3Error(http('Unknown', 429), ctx).kind).toBe('Throttled');
    expect(mapS3Error(http('NotFound', 404), ctx).kind).toBe('NotFound');
    expect(mapS3Error(http('Forbidden', 403), ctx).kind).toBe('AccessDenied');
    expect(mapS3Error(http('InvalidAccessKeyId', 403), ctx).kind).toBe('AccessDenied');
    expect(mapS3Error(http('RequestTimeout', 400), ctx).kind).toBe('Timeout');
    expect(mapS3Error(http('InvalidRequest', 400), ctx).kind).toBe('InvalidRequest');
  });
  it('names the endpoint for network failures', () => {
    for (const code of ['ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'EHOSTUNREACH']) {
      const e = mapS3Error(Object.assign(new Error(`getaddrinfo ${code}`), { code }), ctx);
      expect(e.kind).toBe('Unavailable');
      expect(e.message).toContain('http://s3.example:9000');
      expect(e.retryable).toBe(true);
    }
  });
  it('tells deadline from caller abort', () => {
    const abort = Object.assign(new Error('aborted'), { name: 'AbortError' });
    expect(mapS3Error(abort, { ...ctx, timedOut: true }).kind).toBe('Timeout');
    expect(mapS3Error(abort, { ...ctx, callerAborted: true }).kind).toBe('Aborted');
  });
  it('explains an SSE refusal only for PUTs with sse', () => {
    const e = mapS3Error(http('InvalidRequest', 400), { ...ctx, op: 'put', sse: true });
    expect(e.message).toMatch(/refused server-side encryption/);
    expect(mapS3Error(http('InvalidRequest', 400), { ...ctx, op: 'put' }).message).not.toMatch(/encryption/);
  });
  it('never copies server text into the message', () => {
    expect(mapS3Error(http('InternalError', 500), ctx).message).not.toContain('hunter2');
    expect(mapS3Error(http('Weird', 418), ctx).message).not.toContain('hunter2');
  });
});

describe('endpoints', () => {
  it('normalises and picks path-style for non-AWS hosts', () => {
    expect(normalizeEndpoint('minio.local:9000/')).toBe('https://minio.local:9000');
    expect(defaultPathStyle('http://127.0.0.1:7480')).toBe(true);
    expect(defaultPathStyle('https://s3.eu-west-1.amazonaws.com')).toBe(false);
    expect(defaultPathStyle(undefined)).toBe(false);
    expect(() => normalizeEndpoint('http://user:pw@host')).toThrow(/credentials do not belong/);
    expect(() => normalizeEndpoint('http://user:pw@host')).not.toThrow(/pw/);
    expect(() => normalizeEndpoint('http://host:9000/path')).toThrow(/no path/);
    expect(normalizeEndpoint('HTTP://Host:9000/')).toBe('http://host:9000');
    expect(() => normalizeEndpoint('http://')).toThrow(/invalid S3 endpoint/);
  });
});
