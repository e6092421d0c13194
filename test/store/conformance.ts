/**
 * The ObjectStore conformance suite: every backend and decorator stack must pass it.
 *
 *   runObjectStoreConformance('file', async () => ({ store, cleanup }));
 *
 * `setup` is called once per suite (beforeAll); the store it returns must start empty (use a
 * fresh folder / key prefix) and is closed after `cleanup`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { StoreError, type ObjectStore } from '../../src/store/types.js';

export interface ConformanceSetup {
  store: ObjectStore;
  cleanup(): Promise<void>;
}

async function listAll(store: ObjectStore, prefix: string, limit?: number): Promise<{ keys: string[]; pages: number }> {
  const keys: string[] = [];
  let after: string | undefined;
  let pages = 0;
  do {
    const page = await store.list(prefix, { after, limit });
    pages++;
    keys.push(...page.objects.map((o) => o.key));
    after = page.next;
    if (pages > 1000) throw new Error('list pagination does not terminate');
  } while (after !== undefined);
  return { keys, pages };
}

async function expectKind(p: Promise<unknown>, kind: StoreError['kind']): Promise<StoreError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e, `expected a StoreError ${kind}`).toBeInstanceOf(StoreError);
  expect((e as StoreError).kind).toBe(kind);
  return e as StoreError;
}

/** What a store may legitimately do differently; each defaults to the strict behaviour. */
export interface ConformanceCaps {
  /**
   * A get after a delete is NotFound (default true). A proxy group keeps serving a deleted
   * object from its proxies' caches (deletes go to the bucket only; see src/proxy/group.ts).
   */
  getAfterDeleteIsNotFound?: boolean;
}

export function runObjectStoreConformance(label: string, setup: () => Promise<ConformanceSetup>, caps: ConformanceCaps = {}): void {
  describe(`ObjectStore conformance: ${label}`, () => {
    let ctx: ConformanceSetup | undefined;
    const store = () => {
      if (!ctx) throw new Error('setup failed');
      return ctx.store;
    };
    beforeAll(async () => {
      ctx = await setup();
    });
    afterAll(async () => {
      if (!ctx) return;
      try {
        await ctx.cleanup();
      } finally {
        await ctx.store.close();
      }
    });

    it('puts and gets an object', async () => {
      await store().put('basic/hello', Buffer.from('hello world'));
      expect((await store().get('basic/hello')).toString()).toBe('hello world');
    });

    it('gets ranges, clipping the end at the object size', async () => {
      const body = Buffer.from('0123456789abcdef');
      await store().put('range/obj', body);
      expect((await store().get('range/obj', { range: { start: 2, end: 6 } })).toString()).toBe('2345');
      expect((await store().get('range/obj', { range: { start: 0, end: 16 } })).toString()).toBe('0123456789abcdef');
      expect((await store().get('range/obj', { range: { start: 10, end: 1000 } })).toString()).toBe('abcdef');
      expect((await store().get('range/obj', { range: { start: 15, end: 16 } })).toString()).toBe('f');
      expect((await store().get('range/obj', { range: { start: 16, end: 20 } })).length).toBe(0);
      expect((await store().get('range/obj', { range: { start: 5, end: 5 } })).length).toBe(0);
      await expectKind(store().get('range/missing', { range: { start: 0, end: 4 } }), 'NotFound');
      await expectKind(store().get('range/missing', { range: { start: 3, end: 3 } }), 'NotFound');
    });

    it('heads: size and mtime, null when missing', async () => {
      const before = Date.now();
      await store().put('head/obj', Buffer.alloc(1234, 7));
      const info = await store().head('head/obj');
      expect(info).not.toBeNull();
      expect(info!.key).toBe('head/obj');
      expect(info!.size).toBe(1234);
      // S3 Last-Modified has 1 s resolution; allow clock skew between us and the server.
      expect(Math.abs(info!.mtimeMs - before)).toBeLessThan(60_000);
      expect(await store().head('head/missing')).toBeNull();
    });

    it('deletes; deleting a missing key is fine', async () => {
      await store().put('del/obj', Buffer.from('x'));
      await store().delete('del/obj');
      expect(await store().head('del/obj')).toBeNull();
      if (caps.getAfterDeleteIsNotFound ?? true) await expectKind(store().get('del/obj'), 'NotFound');
      await store().delete('del/obj');
      await store().delete('del/never-existed');
    });

    it('get of a missing key is NotFound', async () => {
      const e = await expectKind(store().get('missing/key'), 'NotFound');
      expect(e.retryable).toBe(false);
    });

    it('lists by prefix in lexicographic order with pagination', async () => {
      const inside: string[] = [];
      for (let i = 0; i < 23; i++) inside.push(`list/a/${String(i).padStart(3, '0')}`);
      inside.push('list/a/sub/deep/x', 'list/a-dash', 'list/a.dot', 'list/a0', 'list/aa');
      const outside = ['list/b/1', 'lisT/a/1', 'other/list/a/1'];
      await Promise.all([...inside, ...outside].map((k) => store().put(k, Buffer.from(k))));

      const all = await listAll(store(), 'list/a', 5);
      expect(all.keys).toEqual([...inside].sort());
      expect(all.pages).toBeGreaterThan(1);

      const dir = await listAll(store(), 'list/a/', 7);
      expect(dir.keys).toEqual(inside.filter((k) => k.startsWith('list/a/')).sort());

      const first = await store().list('list/a/', { limit: 3 });
      expect(first.objects.map((o) => o.key)).toEqual(['list/a/000', 'list/a/001', 'list/a/002']);
      expect(first.objects[0].size).toBe('list/a/000'.length);
      expect(first.next).toBeDefined();

      const one = await store().list('list/a/sub/', { limit: 1 });
      expect(one.objects.map((o) => o.key)).toEqual(['list/a/sub/deep/x']);
      expect(one.next).toBeUndefined();

      expect((await store().list('list/none/')).objects).toEqual([]);
      const unpaged = await listAll(store(), 'list/');
      expect(unpaged.pages).toBe(1);
      expect(unpaged.keys).toEqual([...inside, 'list/b/1'].sort());
    });

    it('overwrites a key with the same bytes', async () => {
      const body = randomBytes(5000);
      await store().put('over/obj', body);
      await store().put('over/obj', body);
      expect((await store().get('over/obj')).equals(body)).toBe(true);
      expect((await listAll(store(), 'over/')).keys).toEqual(['over/obj']);
    });

    it('stores a large (8 MiB) object and reads ranges of it', async () => {
      const body = randomBytes(8 << 20);
      await store().put('large/obj', body);
      expect((await store().head('large/obj'))!.size).toBe(body.length);
      expect((await store().get('large/obj')).equals(body)).toBe(true);
      const part = await store().get('large/obj', { range: { start: (4 << 20) - 10, end: (4 << 20) + 10 } });
      expect(part.equals(body.subarray((4 << 20) - 10, (4 << 20) + 10))).toBe(true);
    });

    it('keeps binary content and an empty object intact', async () => {
      const all = Buffer.alloc(512);
      for (let i = 0; i < 512; i++) all[i] = i & 0xff;
      await store().put('bin/all-bytes', all);
      expect((await store().get('bin/all-bytes')).equals(all)).toBe(true);
      await store().put('bin/empty', Buffer.alloc(0));
      expect((await store().get('bin/empty')).length).toBe(0);
      expect((await store().head('bin/empty'))!.size).toBe(0);
    });

    it('handles concurrent puts and gets', async () => {
      const bodies = Array.from({ length: 32 }, (_, i) => randomBytes(1000 + i * 997));
      await Promise.all(bodies.map((b, i) => store().put(`conc/${i}`, b)));
      const got = await Promise.all(bodies.map((_, i) => store().get(`conc/${i}`)));
      got.forEach((g, i) => expect(g.equals(bodies[i])).toBe(true));
      expect((await listAll(store(), 'conc/')).keys.length).toBe(32);
    });

    it('stores block-shaped keys', async () => {
      const key = 'vol1/blocks/7f/12_3_4567';
      await store().put(key, Buffer.from('block'));
      expect((await listAll(store(), 'vol1/blocks/')).keys).toEqual([key]);
    });

    it('rejects invalid keys with InvalidRequest', async () => {
      for (const bad of ['', '/abs', 'a//b', 'a/../b', './a', 'a/']) {
        await expectKind(store().put(bad, Buffer.from('x')), 'InvalidRequest');
      }
      await expectKind(store().get('../escape'), 'InvalidRequest');
    });

    it('honours an already-aborted signal', async () => {
      const ac = new AbortController();
      ac.abort();
      const e = await store().get('basic/hello', { signal: ac.signal }).then(() => undefined, (err: unknown) => err);
      expect(e).toBeInstanceOf(StoreError);
      expect((e as StoreError).kind).toBe('Aborted');
    });
  });
}
