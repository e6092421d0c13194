/** Runs async sections one at a time, in call order (a failed section does not block the next). */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.tail.then(fn);
    this.tail = r.then(() => undefined, () => undefined);
    return r;
  }
}
