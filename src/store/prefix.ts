import type { GetOptions, ListOptions, ListPage, ObjectInfo, ObjectStore, PutOptions, RequestOptions } from './types.js';

/**
 * Key prefix decorator: every key `k` becomes `prefix/k` in the inner store, listings are asked
 * under the prefix and answered with it stripped. Continuation tokens pass through untouched.
 */
export function withPrefix(inner: ObjectStore, prefix: string): ObjectStore {
  const p = prefix.replace(/^\/+|\/+$/g, '');
  if (p === '') return inner;
  if (p.split('/').some((s) => s === '' || s === '.' || s === '..')) throw new Error(`invalid key prefix "${prefix}"`);
  const full = `${p}/`;
  const strip = (o: ObjectInfo): ObjectInfo => ({ ...o, key: o.key.slice(full.length) });
  return {
    description: `${inner.description} prefix ${p}/`,
    put: (key: string, body: Buffer, options?: PutOptions) => inner.put(full + key, body, options),
    get: (key: string, options?: GetOptions) => inner.get(full + key, options),
    head: async (key: string, options?: RequestOptions) => {
      const info = await inner.head(full + key, options);
      return info && strip(info);
    },
    delete: (key: string, options?: RequestOptions) => inner.delete(full + key, options),
    list: async (listPrefix: string, options?: ListOptions): Promise<ListPage> => {
      const page = await inner.list(full + listPrefix, options);
      return { ...page, objects: page.objects.map(strip) };
    },
    close: () => inner.close(),
  };
}
