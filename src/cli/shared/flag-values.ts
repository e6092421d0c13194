import { InvalidArgumentError } from 'commander';
import { parseSize } from '../../config/sizes.js';
import { parseIdPair } from '../../config/identity.js';
import { parseDuration } from './table.js';

/**
 * Flag VALUE checks shared by the four binaries. A bad value is a usage error (exit 2) that names
 * the flag and the expected form: commander reports an InvalidArgumentError from an option's
 * parser as `option '--diskQuota <size>' argument '10Q' is invalid. …`. Each check returns the
 * text unchanged, so what the action gets (and what the mount passes to its daemon) stays the
 * operator's spelling; the action parses it again into numbers.
 */
export type ValueCheck = (text: string) => unknown;

/** A commander option parser from a check: the value back, or an InvalidArgumentError. */
export function checked(check: ValueCheck): (text: string) => string {
  return (text) => {
    try {
      check(text);
    } catch (e) {
      throw new InvalidArgumentError(e instanceof Error ? e.message : String(e));
    }
    return text;
  };
}

/** A size: bytes, 64M, 10G…; with `percent`, also a percentage like 5%. */
export const sizeValue = (percent: boolean): ValueCheck => (t) => parseSize(t, percent ? 100 : undefined);

/** A duration: seconds or 30s, 15m, 24h, 7d. */
export const durationValue: ValueCheck = (t) => parseDuration(t);

/** uid:gid with numeric ids (the squash flags). */
export const idPairValue: ValueCheck = (t) => parseIdPair(t);

/**
 * When something ends: a duration from now (30d, 12h, 3600) or an ISO 8601 time
 * (2027-01-01T00:00:00Z); in the future. Returns ms since the epoch.
 */
export function parseExpiry(text: string, now = Date.now()): number {
  const t = text.trim();
  let at: number;
  if (/^\d+\s*[smhd]?$/i.test(t)) at = now + parseDuration(t) * 1000;
  else if (/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(t)) at = Date.parse(t);
  else throw new Error(`"${text}": expected a duration like 30d or 12h, or a time like 2027-01-01T00:00:00Z`);
  if (!Number.isFinite(at)) throw new Error(`"${text}": not a valid time`);
  if (at <= now) throw new Error(`"${text}": must be in the future`);
  return at;
}
export const expiryValue: ValueCheck = (t) => parseExpiry(t);

/** A whole number ≥ min. */
export const wholeNumberValue = (min: number): ValueCheck => (t) => {
  const n = Number(t);
  if (t.trim() === '' || !Number.isInteger(n) || n < min) throw new Error(`"${t}": expected a whole number ≥ ${min}`);
  return n;
};

/** host:port (`[v6]:port` too); with `hostOptional`, a bare port. The port is 0…65535. */
export const hostPortValue = (hostOptional: boolean): ValueCheck => (t) => {
  const m = /^(?:\[[0-9a-fA-F:]+\]|[^:[\]]*):(\d{1,5})$/.exec(t) ?? (hostOptional ? /^()(\d{1,5})$/.exec(t) : null);
  const port = m ? Number(m[m.length - 1]) : NaN;
  if (!m || port > 65535) throw new Error(`"${t}": expected ${hostOptional ? '[host:]port' : 'host:port'} with a port from 0 to 65535`);
  return port;
};

/** Run a check on a value that did not come through commander (mount -o, fstab): a UsageError naming `what`. */
export function checkValue(what: string, text: string, check: ValueCheck): void {
  try {
    check(text);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new UsageError(msg.startsWith(what) ? msg : `${what} ${msg}`);
  }
}

/** A mistake in how the binary was called (exit 2), as opposed to a runtime failure (exit 1). */
export class UsageError extends Error {}

/** Print `binary: message` and exit: 2 for a UsageError, else 1. */
export function exitWithError(binary: string, e: unknown): never {
  process.stderr.write(`${binary}: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(e instanceof UsageError ? 2 : 1);
}
