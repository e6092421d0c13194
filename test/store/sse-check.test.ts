/**
 * SSE that is really applied, at the store level, against the real RGW: a header-stripping
 * pass-through in front of it stands in for an S3-compatible store that accepts
 * `x-amz-server-side-encryption` and ignores it (RGW itself refuses the header with 400), and a
 * second one also answers `x-amz-server-side-encryption: AES256` (a store that applied it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { sharedRgw, type Rgw } from '../harness/rgw.js';
import { startCaptureProxy, type CaptureProxy } from '../harness/capture-proxy.js';
import {
  openStore, parseSseMode, StoreError, withSseCheck, type PutReport, type SseNotApplied,
} from '../../src/store/index.js';
import type { BlockStoreSettings } from '../../src/meta/types.js';

let rgw: Rgw;
let ignoring: CaptureProxy;
let applying: CaptureProxy;
const BUCKET = `sse-check-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  rgw = await sharedRgw();
  await rgw.createBucket(BUCKET);
  const keys = { accessKey: rgw.accessKey, secretKey: rgw.secretKey };
  ignoring = await startCaptureProxy({ target: rgw.endpoint, stripSse: { keys } });
  applying = await startCaptureProxy({ target: rgw.endpoint, stripSse: { keys, answer: 'AES256' } });
}, 180_000);
afterAll(async () => {
  await ignoring?.stop();
  await applying?.stop();
  await rgw?.stop();
});

function settings(endpoint: string, over: Partial<BlockStoreSettings> = {}): BlockStoreSettings {
  return { url: `s3://${BUCKET}/pfx`, endpoint, region: rgw.region, blockUser: rgw.accessKey, blockPass: rgw.secretKey, ...over };
}
const key = () => `sse/${randomBytes(6).toString('hex')}`;

describe('SSE check', () => {
  it('S3ObjectStore reports the PUT answer\'s x-amz-server-side-encryption (the SDK fills ServerSideEncryption)', async () => {
    const reports: PutReport[] = [];
    const onStored = (r: PutReport) => reports.push(r);
    for (const endpoint of [ignoring.endpoint, applying.endpoint]) {
      const store = openStore(settings(endpoint, { sse: true }));
      try {
        await store.put(key(), Buffer.from('x'), { onStored });
      } finally {
        await store.close();
      }
    }
    const port = (e: string) => new URL(e).port;
    expect(reports).toEqual([
      { sse: undefined, where: `s3://${BUCKET} at http://127.0.0.1:${port(ignoring.endpoint)}` },
      { sse: 'AES256', where: `s3://${BUCKET} at http://127.0.0.1:${port(applying.endpoint)}` },
    ]);
    // The header did reach the pass-through (and was removed before RGW, which accepted the PUT).
    expect(ignoring.requests.some((q) => q.method === 'PUT' && q.headers['x-amz-server-side-encryption'] === 'AES256')).toBe(true);
  });

  it('--sse: a store that ignores SSE gets every PUT through, one first-time warning, and a count of all', async () => {
    const events: SseNotApplied[] = [];
    const store = withSseCheck(openStore(settings(ignoring.endpoint, { sse: true })), { mode: 'on', onNotApplied: (e) => events.push(e) });
    try {
      const keys = [key(), key(), key()];
      for (const k of keys) await store.put(k, Buffer.from(k));
      for (const k of keys) expect((await store.get(k)).toString()).toBe(k);
      expect(store.sseNotApplied).toBe(3);
      expect(events.map((e) => e.first)).toEqual([true, false, false]);
      expect(events[0].refused).toBe(false);
      expect(events[0].message).toContain(`s3://${BUCKET} at ${ignoring.endpoint} did not apply server-side encryption`);
      expect(events[0].message).toMatch(/UNENCRYPTED.*Enable SSE-S3.*--sse=require/);
      expect(events[0].message).not.toContain(rgw.secretKey);
      expect(events[0].message).not.toContain(rgw.accessKey);
    } finally {
      await store.close();
    }
  });

  it('--sse=require: the PUT fails with a definitive InvalidRequest (not retried) and the object is removed', async () => {
    const events: SseNotApplied[] = [];
    const store = withSseCheck(openStore(settings(ignoring.endpoint, { sse: true })), { mode: 'require', onNotApplied: (e) => events.push(e) });
    try {
      const k = key();
      ignoring.clear();
      const err = await store.put(k, Buffer.from('must not stay')).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).kind).toBe('InvalidRequest');
      expect((err as StoreError).retryable).toBe(false);
      expect((err as StoreError).message).toMatch(/did not apply server-side encryption.*--sse=require refuses/);
      expect(ignoring.requests.filter((q) => q.method === 'PUT')).toHaveLength(1);
      expect(await store.head(k)).toBeNull();
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ first: true, refused: true });
      expect(events[0].message).toMatch(/--sse=require refuses to store blocks unencrypted/);
    } finally {
      await store.close();
    }
  });

  it('a store that applies SSE: no warning, count 0, also with require', async () => {
    for (const mode of ['on', 'require'] as const) {
      const events: SseNotApplied[] = [];
      const store = withSseCheck(openStore(settings(applying.endpoint, { sse: true })), { mode, onNotApplied: (e) => events.push(e) });
      try {
        const k = key();
        await store.put(k, Buffer.from('ok'));
        expect((await store.get(k)).toString()).toBe('ok');
        expect(store.sseNotApplied).toBe(0);
        expect(events).toEqual([]);
      } finally {
        await store.close();
      }
    }
  });

  it('mode off checks only PUTs that ask for SSE themselves (a proxy passing on a mount\'s request)', async () => {
    const events: SseNotApplied[] = [];
    const store = withSseCheck(openStore(settings(ignoring.endpoint)), { mode: 'off', onNotApplied: (e) => events.push(e) });
    try {
      await store.put(key(), Buffer.from('plain'));
      expect(store.sseNotApplied).toBe(0);
      await store.put(key(), Buffer.from('asked'), { sse: true });
      expect(store.sseNotApplied).toBe(1);
      expect(events).toHaveLength(1);
    } finally {
      await store.close();
    }
  });

  it('parseSseMode: bare, require, off; anything else names the flag', () => {
    expect(parseSseMode(undefined)).toBe('off');
    expect(parseSseMode(true)).toBe('on');
    expect(parseSseMode('require')).toBe('require');
    expect(() => parseSseMode('yes', '--sse')).toThrow(/--sse=yes: unknown value; use --sse .* or --sse=require/);
  });
});
