import { describe, expect, it } from 'vitest';
import { FsError } from '../../errors/index.js';
import { asFsError } from './redis-client.js';
import { FinalError, isFailoverError } from './redis-failover.js';

describe('which redis errors mean "the primary is gone" (retried across a failover)', () => {
  it('connection loss, a demoted primary, a loading or replica-less primary', () => {
    for (const msg of [
      'READONLY You can\'t write against a read only replica.',
      'ERR user_script:1: READONLY You can\'t write against a read only replica. script: …',
      'LOADING Redis is loading the dataset in memory',
      'NOREPLICAS Not enough good replicas to write.',
      'Connection is closed.',
      'Reached the max retries per request limit (which is 5). Refer to "maxRetriesPerRequest" option for details.',
      'connect ECONNREFUSED 127.0.0.1:6379',
      'read ECONNRESET',
      'All sentinels are unreachable. Retrying from scratch after 10ms.',
      'Command aborted due to connection close',
    ]) expect(isFailoverError(new Error(msg)), msg).toBe(true);
    const abort = Object.assign(new Error('something new'), { name: 'AbortError' });
    expect(isFailoverError(abort)).toBe(true);
  });

  it('looks through the EIO the engine wraps errors in', () => {
    expect(isFailoverError(asFsError(new Error('connect ECONNREFUSED 127.0.0.1:1')))).toBe(true);
  });

  it('not: namespace errors, script bugs, wrong passwords, and final EIOs (a retry must not undo them)', () => {
    expect(isFailoverError(new FsError('EEXIST', 'exists'))).toBe(false);
    expect(isFailoverError(new Error('ERR Error running script: flexfs: unknown write x'))).toBe(false);
    expect(isFailoverError(new Error('WRONGPASS invalid username-password pair'))).toBe(false);
    // our own messages may name the readOnly scope: only redis' upper-case READONLY is a demoted primary
    expect(isFailoverError(new FsError('EINVAL', 'token readOnly must be true or false'))).toBe(false);
    const final = new FinalError('redis: only 0 of 1 replica(s) confirmed', new Error('Connection is closed.'));
    expect(final.code).toBe('EIO');
    expect(isFailoverError(final)).toBe(false);
    expect(isFailoverError(new FsError('EIO', 'outer', { cause: final }))).toBe(false);
  });
});
