/** A parsed store URL: `file:///abs/dir` or `s3://bucket[/prefix]`. */
export type StoreLocation =
  | { scheme: 'file'; dir: string }
  | { scheme: 's3'; bucket: string; prefix: string };

export function parseStoreUrl(url: string): StoreLocation {
  if (typeof url !== 'string' || url === '') throw new Error('block store URL is empty (expected file:///dir or s3://bucket/prefix)');
  if (url.startsWith('file://')) {
    let dir = decodeURIComponent(url.slice('file://'.length));
    if (dir.startsWith('localhost/')) dir = dir.slice('localhost'.length);
    if (!dir.startsWith('/')) throw new Error(`block store URL "${url}": file:// needs an absolute folder, e.g. file:///var/lib/flexfs/blocks`);
    dir = dir.replace(/\/+$/, '') || '/';
    if (dir.split('/').includes('..')) throw new Error(`block store URL "${url}": ".." is not allowed in the folder`);
    return { scheme: 'file', dir };
  }
  if (url.startsWith('s3://')) {
    const rest = url.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const prefix = slash < 0 ? '' : rest.slice(slash + 1).replace(/^\/+|\/+$/g, '');
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/.test(bucket)) {
      throw new Error(`block store URL "${url}": invalid bucket name "${bucket}"`);
    }
    if (prefix.split('/').some((s) => s === '.' || s === '..') || /\/\//.test(prefix)) {
      throw new Error(`block store URL "${url}": invalid key prefix "${prefix}"`);
    }
    return { scheme: 's3', bucket, prefix };
  }
  const scheme = /^([a-z0-9+.-]+):/i.exec(url)?.[1];
  throw new Error(`block store URL "${url}": unsupported ${scheme ? `scheme "${scheme}"` : 'form'} (expected file:///dir or s3://bucket/prefix)`);
}
