import { mkdir, open, opendir, rename, rm, stat, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { TEMP_MARKER, validateKey } from './keys.js';
import {
  StoreError, type GetOptions, type ListOptions, type ListPage, type ObjectInfo, type ObjectStore,
  type PutOptions, type RequestOptions,
} from './types.js';
import { STORE_DEFAULTS } from '../config/defaults.js';

/**
 * `file://DIR` store: one file per key under DIR (key segments become folders). The embedded
 * default. Puts are atomic: a temp file in the target folder is written, fsynced and renamed over
 * the key, then the folder is fsynced, so a crash leaves either the old object or the new one.
 * DIR is created on the first put; before that the store is simply empty.
 */
export class FileObjectStore implements ObjectStore {
  readonly description: string;

  constructor(readonly root: string) {
    if (!root.startsWith('/')) throw new Error(`file store folder must be an absolute path, got "${root}"`);
    this.description = `file://${root}`;
  }

  async put(key: string, body: Buffer, options?: PutOptions): Promise<void> {
    validateKey(key);
    checkSignal(options, key);
    const path = join(this.root, key);
    const dir = dirname(path);
    const tmp = join(dir, `${TEMP_MARKER}${randomBytes(8).toString('hex')}`);
    try {
      await mkdir(dir, { recursive: true });
      const fh = await open(tmp, 'wx', 0o644);
      try {
        await fh.writeFile(body);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
      await syncDir(dir);
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw this.fsError(e, 'put', key);
    }
  }

  async get(key: string, options?: GetOptions): Promise<Buffer> {
    validateKey(key);
    checkSignal(options, key);
    let fh;
    try {
      fh = await open(join(this.root, key), 'r');
    } catch (e) {
      throw this.fsError(e, 'get', key);
    }
    try {
      const size = (await fh.stat()).size;
      let start = 0;
      let end = size;
      if (options?.range) {
        start = Math.min(options.range.start, size);
        end = Math.min(Math.max(options.range.end, start), size);
      }
      const buf = Buffer.allocUnsafe(end - start);
      let done = 0;
      while (done < buf.length) {
        const { bytesRead } = await fh.read(buf, done, buf.length - done, start + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done === buf.length ? buf : buf.subarray(0, done);
    } catch (e) {
      throw this.fsError(e, 'get', key);
    } finally {
      await fh.close();
    }
  }

  async head(key: string, options?: RequestOptions): Promise<ObjectInfo | null> {
    validateKey(key);
    checkSignal(options, key);
    try {
      const st = await stat(join(this.root, key));
      if (!st.isFile()) return null;
      return { key, size: st.size, mtimeMs: st.mtimeMs };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw this.fsError(e, 'head', key);
    }
  }

  async delete(key: string, options?: RequestOptions): Promise<void> {
    validateKey(key);
    checkSignal(options, key);
    try {
      await unlink(join(this.root, key));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw this.fsError(e, 'delete', key);
    }
  }

  /**
   * Keys in lexicographic (code unit) order: a folder `d` sorts as `d/`, which is where its keys
   * fall among its siblings. `after` is the last key of the previous page; whole folders that lie
   * before it or outside the prefix are skipped without being read.
   */
  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    checkSignal(options);
    const limit = Math.max(1, options?.limit ?? STORE_DEFAULTS.listPageSize);
    const after = options?.after;
    const out: ObjectInfo[] = [];
    const walk = async (relDir: string): Promise<boolean> => {
      let names: { name: string; dir: boolean }[];
      try {
        const d = await opendir(relDir ? join(this.root, relDir) : this.root);
        names = [];
        for await (const ent of d) {
          if (ent.name.includes(TEMP_MARKER)) continue;
          if (ent.isDirectory()) names.push({ name: ent.name + '/', dir: true });
          else if (ent.isFile()) names.push({ name: ent.name, dir: false });
        }
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return true;
        throw this.fsError(e, 'list', relDir || prefix);
      }
      names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const { name, dir } of names) {
        const path = relDir + name; // folders end in '/'
        if (dir) {
          // Skip folders outside the prefix, and folders whose every key is <= after.
          if (!(path.startsWith(prefix) || prefix.startsWith(path))) continue;
          if (after !== undefined && path < after && !after.startsWith(path)) continue;
          if (!(await walk(path))) return false;
        } else {
          if (!path.startsWith(prefix)) continue;
          if (after !== undefined && path <= after) continue;
          if (out.length === limit) return false; // one more exists: stop, there is a next page
          try {
            const st = await stat(join(this.root, path));
            out.push({ key: path, size: st.size, mtimeMs: st.mtimeMs });
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // deleted meanwhile
            throw this.fsError(e, 'list', path);
          }
        }
      }
      return true;
    };
    const complete = await walk('');
    return complete ? { objects: out } : { objects: out, next: out[out.length - 1].key };
  }

  async close(): Promise<void> {}

  private fsError(e: unknown, op: string, key: string): StoreError {
    if (e instanceof StoreError) return e;
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    const where = `${this.description}/${key}`;
    if (op === 'put' && (code === 'ENOTDIR' || code === 'EEXIST' || code === 'EISDIR')) {
      return new StoreError('InvalidRequest', `${op} ${where}: the key collides with an existing object or folder of keys (${code})`, { key, cause: e });
    }
    switch (code) {
      case 'ENOENT':
      case 'ENOTDIR':
        return new StoreError('NotFound', `${op} ${where}: no such object`, { key, cause: e });
      case 'EACCES':
      case 'EPERM':
      case 'EROFS':
        return new StoreError('AccessDenied', `${op} ${where}: permission denied (${code})`, { key, cause: e });
      case 'EISDIR':
        return new StoreError('InvalidRequest', `${op} ${where}: the key names a folder of other keys`, { key, cause: e });
      case 'EMFILE':
      case 'ENFILE':
      case 'EAGAIN':
        return new StoreError('Unavailable', `${op} ${where}: out of file handles (${code})`, { key, cause: e });
      default:
        return new StoreError('Other', `${op} ${where}: ${code}`, { key, cause: e });
    }
  }
}

function checkSignal(options: RequestOptions | undefined, key?: string): void {
  if (options?.signal?.aborted) throw new StoreError('Aborted', 'request aborted by caller', { key });
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
