/** Resolve after `ms` milliseconds (timer-based, never blocks the loop). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
