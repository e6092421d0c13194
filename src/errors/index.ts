import { constants } from 'node:os';

/** POSIX error names flexfs uses. Values come from the running OS (Linux). */
export type ErrnoName =
  | 'EPERM' | 'ENOENT' | 'EIO' | 'EBADF' | 'EAGAIN' | 'ENOMEM' | 'EACCES' | 'EBUSY' | 'EEXIST'
  | 'EXDEV' | 'ENODEV' | 'ENOTDIR' | 'EISDIR' | 'EINVAL' | 'EFBIG' | 'ENOSPC' | 'EROFS'
  | 'EMLINK' | 'ERANGE' | 'ENAMETOOLONG' | 'ENOSYS' | 'ENOTEMPTY' | 'ELOOP' | 'ENODATA'
  | 'ENOTSUP' | 'ETIMEDOUT' | 'ECONNREFUSED' | 'ESTALE' | 'EDQUOT' | 'E2BIG' | 'ENXIO' | 'EDEADLK' | 'EINTR';

const errnoNumbers = constants.errno as Record<string, number>;

/** Positive errno number for a name (ENOTSUP is EOPNOTSUPP on Linux). */
export function errnoOf(name: ErrnoName): number {
  const n = errnoNumbers[name] ?? (name === 'ENOTSUP' ? errnoNumbers.EOPNOTSUPP : undefined);
  if (n === undefined) throw new Error(`unknown errno name ${name}`);
  return n;
}

/**
 * An error that carries the errno the filesystem must answer with. Made where the failure is
 * understood (metadata rules, codec integrity, store deadlines); everything else becomes EIO.
 */
export class FsError extends Error {
  readonly code: ErrnoName;
  readonly errno: number;
  constructor(code: ErrnoName, message?: string, options?: { cause?: unknown }) {
    super(message ? `${code}: ${message}` : code, options);
    this.name = 'FsError';
    this.code = code;
    this.errno = errnoOf(code);
  }
}

export function isFsError(e: unknown, code?: ErrnoName): e is FsError {
  return e instanceof FsError && (code === undefined || e.code === code);
}

/**
 * The one place foreign errors become errnos: FsError keeps its code, Node system errors
 * (ENOENT from fs, ECONNREFUSED from net…) keep theirs when known, anything else is EIO.
 */
export function toErrno(e: unknown): number {
  if (e instanceof FsError) return e.errno;
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && typeof errnoNumbers[code] === 'number') return errnoNumbers[code];
  return errnoOf('EIO');
}

/** Same as toErrno, as the name. */
export function toErrnoName(e: unknown): ErrnoName | string {
  if (e instanceof FsError) return e.code;
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && typeof errnoNumbers[code] === 'number') return code;
  return 'EIO';
}
