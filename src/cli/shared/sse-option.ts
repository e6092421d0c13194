import { InvalidArgumentError } from 'commander';
import { parseSseMode } from '../../store/sse.js';

/**
 * Commander parser of `--sse=VALUE` for mount.flexfs and proxy.flexfs (a bare `--sse` never
 * reaches it and reads as true): only `require` is accepted, anything else is an error naming
 * the flag. `hint` is added to that error.
 */
export function sseOption(flag: string, hint = ''): (value: string) => string {
  return (value) => {
    try {
      parseSseMode(value, flag);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message + hint);
    }
    return value;
  };
}
