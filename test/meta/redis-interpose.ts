import type { Redis } from 'ioredis';

/**
 * A real ioredis client with a seam between the engine and the server, to place another
 * server's action, or a crash, between two of an engine operation's commands. One "command" is
 * one call the engine makes on the client (a MULTI…EXEC transaction or a script counts as one).
 */
export interface Interposed {
  /** Hand this to `new RedisEngine(...)`. */
  client: Redis;
  /**
   * Right after the engine's n-th command from now is answered, and before the engine sees the
   * answer, run `fn` (e.g. another metadata server's operation). `fired()` says whether it ran.
   */
  after(n: number, fn: () => Promise<void>): { fired(): boolean };
  /** From the n-th command from now on, every command fails without reaching redis (a crash). */
  failFrom(n: number): void;
  /** Back to plain pass-through. */
  reset(): void;
}

const NOT_COMMANDS = new Set(['on', 'once', 'off', 'emit', 'addListener', 'removeListener', 'removeAllListeners',
  'listeners', 'connect', 'disconnect', 'quit', 'defineCommand', 'duplicate', 'pipeline']);

export function interpose(real: Redis): Interposed {
  let count = 0;
  let hook: { at: number; fn: () => Promise<void>; fired: boolean } | undefined;
  let failAt = Infinity;

  const run = async <T>(name: string, call: () => Promise<T>): Promise<T> => {
    const n = ++count;
    if (n >= failAt) throw new Error(`interposed: simulated crash before ${name}`);
    const result = await call();
    if (hook && hook.at === n) {
      hook.fired = true;
      await hook.fn();
    }
    return result;
  };

  const client = new Proxy(real, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function' || typeof prop !== 'string' || NOT_COMMANDS.has(prop)) return v;
      if (prop === 'multi') {
        return (...args: unknown[]) => {
          const tx = (v as (...a: unknown[]) => { exec: () => Promise<unknown> }).apply(target, args);
          const exec = tx.exec.bind(tx);
          tx.exec = () => run('multi', exec);
          return tx;
        };
      }
      return (...args: unknown[]) => run(prop, () => (v as (...a: unknown[]) => Promise<unknown>).apply(target, args));
    },
  });

  return {
    client,
    after(n, fn) {
      const h = { at: count + n, fn, fired: false };
      hook = h;
      return { fired: () => h.fired };
    },
    failFrom(n) { failAt = count + n; },
    reset() { hook = undefined; failAt = Infinity; },
  };
}
