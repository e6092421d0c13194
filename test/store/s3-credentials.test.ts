/**
 * The bucket credential chain (src/store/s3-credentials.ts) without a bucket: which source wins,
 * proven against an in-process stand-in for EC2's metadata service, and secrets kept out of the
 * errors it builds.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inspect } from 'node:util';
import { credentialProvider, CredentialsError } from '../../src/store/s3-credentials.js';
import { normalizeEndpoint } from '../../src/store/s3.js';
import { freePort } from '../harness/ports.js';
import { startImdsStandIn } from './imds-standin.js';

const ENV_KEYS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_CONFIG_FILE', 'AWS_EC2_METADATA_DISABLED', 'AWS_EC2_METADATA_SERVICE_ENDPOINT', 'AWS_EC2_METADATA_V1_DISABLED',
  'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_ROLE_ARN', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_CREDENTIALS_FULL_URI'] as const;

describe('bucket credentials', () => {
  let saved: Record<string, string | undefined> = {};
  beforeEach(() => {
    saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
    for (const k of ENV_KEYS) delete process.env[k];
    process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/flexfs/credentials';
    process.env.AWS_CONFIG_FILE = '/nonexistent/flexfs/config';
  });
  afterEach(() => {
    for (const k of ENV_KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  const resolve = async (p: ReturnType<typeof credentialProvider>) => (typeof p === 'function' ? p() : p);

  it('empty blockPass: the instance role from IMDS (v2, token first) wins over environment keys', async () => {
    const imds = await startImdsStandIn({
      role: { name: 'flexfs-node', accessKeyId: 'ASIAIMDSROLEKEY', secretAccessKey: 'imds-role-secret', sessionToken: 'imds-session' },
    });
    process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = imds.endpoint;
    process.env.AWS_ACCESS_KEY_ID = 'AKIAFROMENVIRONMENT';
    process.env.AWS_SECRET_ACCESS_KEY = 'env-secret';
    try {
      const creds = await resolve(credentialProvider({ region: 'us-east-1', imdsTimeoutMs: 2000 }));
      expect(creds.accessKeyId).toBe('ASIAIMDSROLEKEY');
      expect(creds.secretAccessKey).toBe('imds-role-secret');
      expect(creds.sessionToken).toBe('imds-session');
      expect(imds.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
        'PUT /latest/api/token',
        'GET /latest/meta-data/iam/security-credentials/',
        'GET /latest/meta-data/iam/security-credentials/flexfs-node',
      ]);
      expect(imds.requests.slice(1).every((r) => r.token)).toBe(true);
    } finally {
      await imds.stop();
    }
  });

  it('AWS_EC2_METADATA_DISABLED=true: IMDS is never asked, the environment keys are used', async () => {
    const imds = await startImdsStandIn({
      role: { name: 'flexfs-node', accessKeyId: 'ASIAIMDSROLEKEY', secretAccessKey: 'imds-role-secret', sessionToken: 'imds-session' },
    });
    process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = imds.endpoint;
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    process.env.AWS_ACCESS_KEY_ID = 'AKIAFROMENVIRONMENT';
    process.env.AWS_SECRET_ACCESS_KEY = 'env-secret';
    try {
      expect((await resolve(credentialProvider({ region: 'us-east-1' }))).accessKeyId).toBe('AKIAFROMENVIRONMENT');
      expect(imds.requests).toEqual([]);
    } finally {
      await imds.stop();
    }
  });

  it('a password in stsEndpoint never appears in the AssumeRole error', async () => {
    const port = await freePort(); // nothing listens: the STS call fails
    const secret = 'sts-p@ss/w0rd-4711';
    for (const stsEndpoint of [`http://admin:${secret}@127.0.0.1:${port}`, `admin:${secret}@127.0.0.1:${port}`]) {
      const p = credentialProvider({
        region: 'us-east-1', blockUser: 'AKIAEXAMPLE', blockPass: 'static-secret', assumeRoleArn: 'arn:aws:iam::1:role/r', stsEndpoint,
      });
      const e = await resolve(p).then(() => undefined, (err: unknown) => err);
      expect(e).toBeInstanceOf(CredentialsError);
      const text = `${String(e)}\n${(e as Error).stack ?? ''}\n${inspect(e, { depth: 8 })}`;
      expect(text).toContain(`through STS at `);
      expect(text).toContain(`…@127.0.0.1:${port}`);
      for (const part of [secret, 'p@ss', 'w0rd-4711', 'admin', 'static-secret']) expect(text, stsEndpoint).not.toContain(part);
    }
  });

  it('normalizeEndpoint never echoes user info, with or without a scheme, even with "@" in the password', () => {
    for (const endpoint of ['http://u:s3cr@t-x@rgw:7480', 'u:s3cr@t-x@rgw:7480', 'https://u:s3cr%40t-x@rgw']) {
      const e = (() => { try { normalizeEndpoint(endpoint); } catch (err) { return err as Error; } return undefined; })();
      expect(e?.message, endpoint).toMatch(/credentials do not belong in the endpoint URL/);
      expect(e!.message).not.toMatch(/s3cr|t-x|u:/);
    }
  });
});
