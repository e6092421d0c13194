import { describe, expect, it } from 'vitest';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../harness/ports.js';
import { FileObjectStore } from '../../src/store/file.js';
import { openStore, withPrefix, withRetry, parseStoreUrl } from '../../src/store/index.js';
import { runObjectStoreConformance } from './conformance.js';

async function fileSetup() {
  const dir = await tempDir('flexfs-store-');
  return { dir, root: join(dir.path, 'blocks') };
}

runObjectStoreConformance('file:// (FileObjectStore)', async () => {
  const { dir, root } = await fileSetup();
  return { store: new FileObjectStore(root), cleanup: dir.cleanup };
});

runObjectStoreConformance('file:// via openStore (retry)', async () => {
  const { dir, root } = await fileSetup();
  return { store: openStore({ url: `file://${root}` }), cleanup: dir.cleanup };
});

runObjectStoreConformance('file:// with prefix + retry decorators', async () => {
  const { dir, root } = await fileSetup();
  return { store: withRetry(withPrefix(new FileObjectStore(root), 'some/prefix')), cleanup: dir.cleanup };
});

describe('file:// store specifics', () => {
  it('leaves no temp files behind and lays keys out as folders', async () => {
    const { dir, root } = await fileSetup();
    try {
      const store = new FileObjectStore(root);
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.put(`v/blocks/0${i % 3}/k${i}`, Buffer.alloc(100, i))));
      const names = await readdir(root, { recursive: true });
      expect(names.filter((n) => n.includes('.flexfs-tmp-'))).toEqual([]);
      expect(names).toContain(join('v', 'blocks', '01', 'k1'));
    } finally { await dir.cleanup(); }
  });

  it('ignores stray temp files (an interrupted put) in listings', async () => {
    const { dir, root } = await fileSetup();
    try {
      const store = new FileObjectStore(root);
      await store.put('a/b', Buffer.from('x'));
      await writeFile(join(root, 'a', '.flexfs-tmp-deadbeef'), 'partial');
      expect((await store.list('')).objects.map((o) => o.key)).toEqual(['a/b']);
    } finally { await dir.cleanup(); }
  });

  it('a missing root is an empty store, created by the first put', async () => {
    const { dir, root } = await fileSetup();
    try {
      const store = new FileObjectStore(join(root, 'not', 'yet'));
      expect((await store.list('')).objects).toEqual([]);
      expect(await store.head('x/y')).toBeNull();
      await store.put('x/y', Buffer.from('1'));
      expect((await store.get('x/y')).toString()).toBe('1');
    } finally { await dir.cleanup(); }
  });

  it('a key that names a folder of keys is InvalidRequest, not data', async () => {
    const { dir, root } = await fileSetup();
    try {
      const store = new FileObjectStore(root);
      await store.put('f/inner', Buffer.from('x'));
      await expect(store.get('f')).rejects.toMatchObject({ kind: 'InvalidRequest' });
      expect(await store.head('f')).toBeNull();
    } finally { await dir.cleanup(); }
  });

  it('a key below an existing object is InvalidRequest', async () => {
    const { dir, root } = await fileSetup();
    try {
      const store = new FileObjectStore(root);
      await store.put('file', Buffer.from('x'));
      await expect(store.put('file/sub', Buffer.from('x'))).rejects.toMatchObject({ name: 'StoreError', kind: 'InvalidRequest' });
      expect((await store.get('file')).toString()).toBe('x');
    } finally { await dir.cleanup(); }
  });
});

describe('store URLs', () => {
  it('parses file and s3 URLs', () => {
    expect(parseStoreUrl('file:///var/lib/flexfs/blocks/')).toEqual({ scheme: 'file', dir: '/var/lib/flexfs/blocks' });
    expect(parseStoreUrl('s3://bucket')).toEqual({ scheme: 's3', bucket: 'bucket', prefix: '' });
    expect(parseStoreUrl('s3://my-bucket/a/b/')).toEqual({ scheme: 's3', bucket: 'my-bucket', prefix: 'a/b' });
  });
  it('rejects bad URLs with a clear message', () => {
    expect(() => parseStoreUrl('file://relative/dir')).toThrow(/absolute folder/);
    expect(() => parseStoreUrl('gs://bucket')).toThrow(/unsupported scheme "gs"/);
    expect(() => parseStoreUrl('s3://')).toThrow(/invalid bucket name/);
    expect(() => parseStoreUrl('s3://bkt/../x')).toThrow(/invalid key prefix/);
    expect(() => parseStoreUrl('')).toThrow(/empty/);
    expect(() => openStore({ url: 's3://bucket', endpoint: 'ftp://host' })).toThrow(/scheme must be http or https/);
  });
});
