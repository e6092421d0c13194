import { FsError, isFsError } from '../errors/index.js';
import { CodecError } from '../codec/types.js';

/**
 * Run `fn` with an AbortSignal that fires after `ms`; if it has not settled by then the caller
 * gets FsError('EIO') naming what timed out, never an endless wait. Work that ignores the
 * signal keeps running in the background, but nobody waits for it.
 */
export async function withDeadline<T>(what: string, ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctl = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new FsError('EIO', `${what}: no answer within ${ms} ms`);
      ctl.abort(err);
      reject(err);
    }, ms);
  });
  try {
    return await Promise.race([fn(ctl.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Errors from the block path (store, codec) become EIO, keeping the first cause for logs;
 * FsErrors (deadline, ENOSPC…) pass through.
 */
export function asIoError(what: string, e: unknown): FsError {
  if (isFsError(e)) return e;
  if (e instanceof CodecError) return new FsError('EIO', `${what}: block failed verification`, { cause: e });
  const kind = (e as { kind?: unknown } | null)?.kind;
  return new FsError('EIO', `${what}: ${typeof kind === 'string' ? kind : 'store error'}`, { cause: e });
}
