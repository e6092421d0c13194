/**
 * The S3 backend against a real S3 server (Ceph RGW started by test/harness/rgw.ts): conformance
 * on the bare store and on the decorator stacks, error mapping, SSE on the wire, credentials.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { sharedRgw, type Rgw } from '../harness/rgw.js';
import { startCaptureProxy, type CaptureProxy } from '../harness/capture-proxy.js';
import { freePort } from '../harness/ports.js';
import { startCaptureProxy as startDelayingForwarder } from '../proxy/harness.js';
import {
  openStore, S3ObjectStore, StoreError, withFaults, withPrefix, withRetry,
} from '../../src/store/index.js';
import type { BlockStoreSettings } from '../../src/meta/types.js';
import { runObjectStoreConformance } from './conformance.js';
import { startImdsStandIn } from './imds-standin.js';

let rgw: Rgw | undefined;
// This file's own bucket, so a run-wide shared cluster's other users never see our keys.
const BUCKET = `store-test-${randomBytes(4).toString('hex')}`;
beforeAll(async () => {
  rgw = await sharedRgw();
  await rgw.createBucket(BUCKET);
}, 180_000);
afterAll(async () => {
  await rgw?.stop();
});

const need = (): Rgw => {
  if (!rgw) throw new Error('RGW did not start');
  return rgw;
};
const uniq = (p: string) => `${p}-${randomBytes(4).toString('hex')}`;

function settings(r: Rgw, over: Partial<BlockStoreSettings> = {}): BlockStoreSettings {
  return { url: `s3://${BUCKET}`, endpoint: r.endpoint, region: r.region, blockUser: r.accessKey, blockPass: r.secretKey, ...over };
}

async function failure(p: Promise<unknown>): Promise<StoreError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e, 'expected the operation to fail with a StoreError').toBeInstanceOf(StoreError);
  return e as StoreError;
}

/** No secret in the message, the stack, or anything util.inspect shows (causes included). */
function expectNoSecret(e: unknown, ...secrets: string[]): void {
  const text = `${String(e)}\n${(e as Error).stack ?? ''}\n${inspect(e, { depth: 8 })}`;
  for (const s of secrets) expect(text.includes(s), 'secret leaked into an error').toBe(false);
}

runObjectStoreConformance('s3 (RGW, bare S3ObjectStore)', async () => {
  const r = need();
  const bucket = uniq('conf-bare');
  await r.createBucket(bucket);
  const store = new S3ObjectStore({ bucket, endpoint: r.endpoint, region: r.region, blockUser: r.accessKey, blockPass: r.secretKey });
  return { store, cleanup: async () => {} };
});

runObjectStoreConformance('s3 (RGW) via openStore s3://bucket/prefix (prefix + retry)', async () => {
  const r = need();
  const bucket = uniq('conf-open');
  await r.createBucket(bucket);
  const store = openStore(settings(r, { url: `s3://${bucket}/some/prefix` }));
  return { store, cleanup: async () => {} };
});

describe('s3 store behaviour on RGW', () => {
  it('openStore s3://bucket/prefix keeps keys under the prefix', async () => {
    const r = need();
    const store = openStore(settings(r, { url: `s3://${BUCKET}/pfx-${randomBytes(3).toString('hex')}` }));
    const bare = new S3ObjectStore({ bucket: BUCKET, endpoint: r.endpoint, blockUser: r.accessKey, blockPass: r.secretKey });
    try {
      await store.put('a/b', Buffer.from('x'));
      const page = await bare.list('pfx-');
      expect(page.objects.map((o) => o.key).some((k) => /^pfx-[0-9a-f]{6}\/a\/b$/.test(k))).toBe(true);
      expect(store.description).toContain(`s3://${BUCKET}`);
      expect(store.description).not.toContain(r.secretKey);
    } finally {
      await store.close();
      await bare.close();
    }
  });

  it('survives a 30% fault rate through withRetry with data intact', async () => {
    const r = need();
    const faulty = withFaults(new S3ObjectStore({ bucket: BUCKET, endpoint: r.endpoint, blockUser: r.accessKey, blockPass: r.secretKey }),
      { errorRate: 0.3, errorAfterRate: 0.5 });
    const store = withRetry(withPrefix(faulty, uniq('faults')), { baseDelayMs: 1, maxDelayMs: 20, maxAttempts: 20 });
    try {
      const bodies = Array.from({ length: 20 }, () => randomBytes(10_000));
      await Promise.all(bodies.map((b, i) => store.put(`o/${i}`, b)));
      const got = await Promise.all(bodies.map((_, i) => store.get(`o/${i}`)));
      got.forEach((g, i) => expect(g.equals(bodies[i])).toBe(true));
      expect((await store.list('o/')).objects.length).toBe(20);
      expect(faulty.counts.errors).toBeGreaterThan(3);
    } finally {
      await store.close();
    }
  });
});

describe('s3 request bounds', () => {
  it('keeps at most maxConcurrency requests in flight', async () => {
    const r = need();
    const proxy = await startCaptureProxy({ target: r.endpoint });
    const store = new S3ObjectStore({
      bucket: BUCKET, endpoint: proxy.endpoint, blockUser: r.accessKey, blockPass: r.secretKey, maxConcurrency: 3,
    });
    try {
      const bodies = Array.from({ length: 24 }, () => randomBytes(64 << 10));
      await Promise.all(bodies.map((b, i) => store.put(`bounded/${i}`, b)));
      expect(proxy.requests.filter((q) => q.method === 'PUT').length).toBe(24);
      expect(proxy.peakInFlight).toBeLessThanOrEqual(3);
      expect(proxy.peakInFlight).toBeGreaterThan(1);
    } finally {
      await store.close();
      await proxy.stop();
    }
  });

  it('time queued for a slot does not count against the request deadline; the caller can still abort the wait', async () => {
    const r = need();
    // A slow bucket: every PUT under queued/ is held 600 ms before it reaches RGW.
    const slow = await startDelayingForwarder(r.endpoint);
    slow.delay = (method, url) => (method === 'PUT' && url.includes('/queued/') ? 600 : 0);
    const store = new S3ObjectStore({
      bucket: BUCKET, endpoint: slow.endpoint, blockUser: r.accessKey, blockPass: r.secretKey, maxConcurrency: 1, requestTimeoutMs: 1500,
    });
    try {
      // Four through one slot: the last waits ~1.8 s (more than its 1.5 s deadline) before it starts.
      const t0 = Date.now();
      const bodies = Array.from({ length: 4 }, () => randomBytes(1000));
      await Promise.all(bodies.map((b, i) => store.put(`queued/${i}`, b)));
      expect(Date.now() - t0, 'the PUTs ran one after another').toBeGreaterThanOrEqual(4 * 600);
      for (const [i, b] of bodies.entries()) expect((await store.get(`queued/${i}`)).equals(b)).toBe(true);

      let holderDone = false;
      const holder = store.put('queued/holder', Buffer.from('h')).then(() => { holderDone = true; });
      const ac = new AbortController();
      const waiting = store.put('queued/aborted', Buffer.from('a'), { signal: ac.signal });
      setTimeout(() => ac.abort(), 100);
      expect((await failure(waiting)).kind).toBe('Aborted');
      expect(holderDone, 'aborted while queued, not after the slot came free').toBe(false);
      await holder;
      expect(slow.requests.filter((q) => q.url.includes('queued/aborted')).length).toBe(0);
    } finally {
      await store.close();
      await slow.close();
    }
  });
});

describe('s3 error mapping', () => {
  it('wrong secret → AccessDenied, not retried, no secret in the error', async () => {
    const r = need();
    const wrong = `wrong-${randomBytes(12).toString('hex')}`;
    const store = openStore(settings(r, { blockPass: wrong }));
    try {
      const e = await failure(store.put('x', Buffer.from('x')));
      expect(e.kind).toBe('AccessDenied');
      expect(e.message).toMatch(/access denied/);
      expectNoSecret(e, wrong, r.secretKey);
      const g = await failure(store.get('x'));
      expect(g.kind).toBe('AccessDenied');
      expectNoSecret(g, wrong, r.secretKey);
    } finally {
      await store.close();
    }
  });

  it('missing bucket → NoSuchBucket naming the bucket', async () => {
    const r = need();
    const store = openStore(settings(r, { url: 's3://no-such-bucket-flexfs' }));
    try {
      const e = await failure(store.put('x', Buffer.from('x')));
      expect(e.kind).toBe('NoSuchBucket');
      expect(e.message).toContain('"no-such-bucket-flexfs" does not exist');
      expect((await failure(store.list(''))).kind).toBe('NoSuchBucket');
      expectNoSecret(e, r.secretKey);
    } finally {
      await store.close();
    }
  });

  it('closed port → Unavailable naming the endpoint, after retries', async () => {
    const r = need();
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const store = openStore(settings(r, { endpoint }), { retry: { maxAttempts: 3, baseDelayMs: 1 } });
    try {
      const e = await failure(store.get('x'));
      expect(e.kind).toBe('Unavailable');
      expect(e.message).toContain(endpoint);
      expect(e.message).toMatch(/ECONNREFUSED/);
      expect(e.message).toMatch(/gave up after 3 attempts/);
      expectNoSecret(e, r.secretKey);
    } finally {
      await store.close();
    }
  });

  it('a server that never answers → Timeout at the request deadline', async () => {
    const r = need();
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => { sockets.push(s); });
    await new Promise<void>((res) => silent.listen(0, '127.0.0.1', () => res()));
    const port = (silent.address() as { port: number }).port;
    const store = new S3ObjectStore({
      bucket: BUCKET, endpoint: `http://127.0.0.1:${port}`, blockUser: r.accessKey, blockPass: r.secretKey, requestTimeoutMs: 400,
    });
    try {
      const t0 = Date.now();
      const e = await failure(store.get('x'));
      expect(e.kind).toBe('Timeout');
      expect(e.retryable).toBe(true);
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(sockets.length).toBeGreaterThan(0);
    } finally {
      await store.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => silent.close(() => res()));
    }
  });

  it('503 SlowDown → Throttled; withRetry rides it out', async () => {
    const r = need();
    let throttle = 2;
    const proxy = await startCaptureProxy({
      target: r.endpoint,
      respond: (_req, _body, res) => {
        if (throttle <= 0) return false;
        throttle--;
        res.writeHead(503, { 'content-type': 'application/xml' })
          .end('<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
        return true;
      },
    });
    const opts = { bucket: BUCKET, endpoint: proxy.endpoint, blockUser: r.accessKey, blockPass: r.secretKey };
    const bare = new S3ObjectStore(opts);
    const retrying = withRetry(new S3ObjectStore(opts), { baseDelayMs: 1 });
    try {
      const e = await failure(bare.put('throttle/x', Buffer.from('x')));
      expect(e.kind).toBe('Throttled');
      expect(e.retryable).toBe(true);
      await retrying.put('throttle/x', Buffer.from('y')); // one more 503, then through
      expect(throttle).toBe(0);
      expect((await bare.get('throttle/x')).toString()).toBe('y');
    } finally {
      await bare.close();
      await retrying.close();
      await proxy.stop();
    }
  });
});

describe('SSE-S3 header', () => {
  let proxy: CaptureProxy;
  beforeAll(async () => {
    proxy = await startCaptureProxy({ target: need().endpoint });
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('every PUT carries x-amz-server-side-encryption: AES256; RGW refusing it is a clear InvalidRequest', async () => {
    const r = need();
    proxy.clear();
    const store = openStore(settings(r, { endpoint: proxy.endpoint, sse: true }));
    try {
      const sizes = [1, 4096, 1 << 20];
      for (const [i, n] of sizes.entries()) {
        const e = await failure(store.put(`sse/${i}`, randomBytes(n)));
        expect(e.kind).toBe('InvalidRequest');
        expect(e.message).toMatch(/refused server-side encryption \(SSE-S3, x-amz-server-side-encryption: AES256\)/);
        expect(e.message).toMatch(/mount without the sse option/);
        expectNoSecret(e, r.secretKey);
      }
      const puts = proxy.requests.filter((q) => q.method === 'PUT');
      expect(puts.length).toBe(sizes.length); // not retried: the answer will not change
      for (const q of puts) expect(q.headers['x-amz-server-side-encryption']).toBe('AES256');
      expect(puts.map((q) => q.bodyBytes)).toEqual(sizes);
      // Reads do not carry it (it is a PUT-only header) and work through the same path.
      await failure(store.get('sse/0')).then((e) => expect(e.kind).toBe('NotFound'));
      const gets = proxy.requests.filter((q) => q.method === 'GET');
      expect(gets.length).toBe(1);
      expect(gets[0].headers['x-amz-server-side-encryption']).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('without sse no PUT carries the header and PUTs succeed', async () => {
    const r = need();
    proxy.clear();
    const store = openStore(settings(r, { endpoint: proxy.endpoint }));
    try {
      await store.put('nosse/a', Buffer.from('plain'));
      expect((await store.get('nosse/a')).toString()).toBe('plain');
      const puts = proxy.requests.filter((q) => q.method === 'PUT');
      expect(puts.length).toBe(1);
      expect(puts[0].headers['x-amz-server-side-encryption']).toBeUndefined();
      expect(puts[0].headers.authorization).toMatch(/^AWS4-HMAC-SHA256 /);
    } finally {
      await store.close();
    }
  });
});

describe('credentials', () => {
  const ENV_KEYS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_SHARED_CREDENTIALS_FILE',
    'AWS_CONFIG_FILE', 'AWS_EC2_METADATA_DISABLED', 'AWS_EC2_METADATA_SERVICE_ENDPOINT', 'AWS_EC2_METADATA_V1_DISABLED',
    'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_ROLE_ARN', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
    'AWS_CONTAINER_CREDENTIALS_FULL_URI'] as const;
  let saved: Record<string, string | undefined> = {};
  beforeAll(() => {
    saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  });
  const resetEnv = () => {
    for (const k of ENV_KEYS) delete process.env[k];
    process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/flexfs/credentials';
    process.env.AWS_CONFIG_FILE = '/nonexistent/flexfs/config';
  };
  afterAll(() => {
    for (const k of ENV_KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  it('empty blockPass: asks IMDS first (token, then the role), then falls back to the default chain (env)', async () => {
    const r = need();
    resetEnv();
    // EC2's metadata service cannot run here: a recording stand-in for an instance without a role.
    let seq = 0;
    const imds = await startImdsStandIn({ seq: () => seq++ });
    const s3Seq: number[] = [];
    const fwd = await startCaptureProxy({ target: r.endpoint, respond: () => { s3Seq.push(seq++); return false; } });
    process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = imds.endpoint;
    process.env.AWS_ACCESS_KEY_ID = r.accessKey;
    process.env.AWS_SECRET_ACCESS_KEY = r.secretKey;
    const store = openStore(settings(r, { endpoint: fwd.endpoint, blockUser: '', blockPass: '' }), { imdsTimeoutMs: 500 });
    try {
      await store.put('creds/env', Buffer.from('from env'));
      expect((await store.get('creds/env')).toString()).toBe('from env');
      expect(imds.requests.map((q) => `${q.method} ${q.path}`)).toEqual(['PUT /latest/api/token', 'GET /latest/meta-data/iam/security-credentials/']);
      expect(imds.requests[1].token, 'IMDSv2: the role lookup carries the session token').toBeTruthy();
      // IMDS was asked before the first S3 request, which was signed with the environment's key.
      expect(Math.max(...imds.requests.map((q) => q.seq))).toBeLessThan(Math.min(...s3Seq));
      expect(fwd.requests[0].headers.authorization).toContain(`Credential=${r.accessKey}/`);
    } finally {
      await store.close();
      await fwd.stop();
      await imds.stop();
      resetEnv();
    }
  });

  it("'ambient' ignores handed-out keys and uses the host chain", async () => {
    const r = need();
    resetEnv();
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    process.env.AWS_ACCESS_KEY_ID = r.accessKey;
    process.env.AWS_SECRET_ACCESS_KEY = r.secretKey;
    const store = openStore(settings(r, { credentials: 'ambient', blockUser: 'ignored', blockPass: 'ignored-too' }));
    try {
      await store.put('creds/ambient', Buffer.from('ok'));
      expect((await store.get('creds/ambient')).toString()).toBe('ok');
    } finally {
      await store.close();
      resetEnv();
    }
  });

  it('no credentials anywhere → AccessDenied saying so', async () => {
    const r = need();
    resetEnv();
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    const store = openStore(settings(r, { blockUser: '', blockPass: '' }), { retry: false });
    try {
      const e = await failure(store.get('creds/none'));
      expect(e.kind).toBe('AccessDenied');
      expect(e.message).toMatch(/no bucket credentials found/);
    } finally {
      await store.close();
      resetEnv();
    }
  });

  it('AssumeRole through a custom STS endpoint (RGW STS): S3 requests use the temporary credentials', async () => {
    const r = need();
    resetEnv();
    // One recording forwarder in front of RGW serves as both the S3 endpoint and the STS endpoint.
    const fwd = await startCaptureProxy({ target: r.endpoint });
    const store = openStore(settings(r, { endpoint: fwd.endpoint, assumeRoleArn: r.roleArn, stsEndpoint: fwd.endpoint }));
    try {
      await store.put('creds/role', Buffer.from('via role'));
      expect((await store.get('creds/role')).toString()).toBe('via role');
      const sts = fwd.requests.filter((q) => q.method === 'POST' && /Action=AssumeRole/.test(q.bodyHead));
      expect(sts.length).toBe(1); // cached until near expiry
      expect(decodeURIComponent(sts[0].bodyHead)).toContain(`RoleArn=${r.roleArn}`);
      expect(sts[0].headers.authorization).toContain(`Credential=${r.accessKey}/`);
      const put = fwd.requests.find((q) => q.method === 'PUT');
      expect(put?.headers['x-amz-security-token']).toBeTruthy();
      expect(put?.headers.authorization).not.toContain(`Credential=${r.accessKey}/`);
    } finally {
      await store.close();
      await fwd.stop();
      resetEnv();
    }
  });

  it('a role that cannot be assumed → AccessDenied naming the role and the STS endpoint', async () => {
    const r = need();
    resetEnv();
    const roleArn = 'arn:aws:iam:::role/no-such-role';
    const store = openStore(settings(r, { assumeRoleArn: roleArn, stsEndpoint: r.endpoint }), { retry: false });
    try {
      const e = await failure(store.get('creds/role'));
      expect(e.kind).toBe('AccessDenied');
      expect(e.message).toContain(`cannot assume role ${roleArn} through STS at ${r.endpoint}`);
      expectNoSecret(e, r.secretKey);
    } finally {
      await store.close();
      resetEnv();
    }
  });
});

