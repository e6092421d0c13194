import { readFile } from 'node:fs/promises';
import { withFaults, withRetry, type FaultConfig, type ObjectStore, type RetryPolicy } from '../../store/index.js';

/**
 * TEST-ONLY hook (not a user feature, not in --help): `FLEXFS_TEST_FAULTS` wraps the mount's block
 * store in the fault-injection decorator (src/store/faults.ts) UNDER the retry decorator, so the
 * mount-level test suites (test/mount/) can drive injected store errors, latency and hangs through
 * a real kernel mount. Value: a JSON object, or `@/path/file.json` to re-read that file every
 * 200 ms (tests change faults while the mount runs). Fields:
 *   FaultConfig fields (errorRate, errorKind, latencyMs, hangRate, ops, errorAfterRate),
 *   retry: RetryPolicy for the retry decorator (read at start),
 *   putDeadlineMs / getDeadlineMs / metaDeadlineMs: VFS deadlines (read at start).
 */
export interface TestFaultSpec extends Omit<FaultConfig, 'random'> {
  retry?: RetryPolicy;
  putDeadlineMs?: number;
  getDeadlineMs?: number;
  metaDeadlineMs?: number;
}

export interface TestFaults {
  /** Deadlines for the VFS (the mount stack's `vfs` options). */
  deadlines: { putDeadlineMs?: number; getDeadlineMs?: number; metaDeadlineMs?: number };
  /** Wrap the raw store (opened with retry: false): retry(faults(raw)). */
  wrap(raw: ObjectStore): ObjectStore;
  stop(): void;
}

const FAULT_KEYS = ['errorRate', 'errorKind', 'errorAfterRate', 'latencyMs', 'hangRate', 'ops'] as const;

function parseSpec(text: string, where: string): TestFaultSpec {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error(`FLEXFS_TEST_FAULTS (${where}) is not valid JSON`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`FLEXFS_TEST_FAULTS (${where}) must be a JSON object`);
  return v as TestFaultSpec;
}

function faultPart(spec: TestFaultSpec): FaultConfig {
  const out: FaultConfig = {};
  for (const k of FAULT_KEYS) if (spec[k] !== undefined) (out as Record<string, unknown>)[k] = spec[k];
  return out;
}

/** Undefined when the variable is not set (the normal case). */
export async function testFaultsFromEnv(value: string | undefined): Promise<TestFaults | undefined> {
  if (!value) return undefined;
  const file = value.startsWith('@') ? value.slice(1) : undefined;
  const spec = file ? parseSpec(await readFile(file, 'utf8'), file) : parseSpec(value, 'environment');
  let timer: NodeJS.Timeout | undefined;
  return {
    deadlines: { putDeadlineMs: spec.putDeadlineMs, getDeadlineMs: spec.getDeadlineMs, metaDeadlineMs: spec.metaDeadlineMs },
    wrap(raw) {
      const faulty = withFaults(raw, faultPart(spec));
      if (file) {
        let last = '';
        timer = setInterval(() => {
          readFile(file, 'utf8').then((text) => {
            if (text === last) return;
            last = text;
            try { faulty.faults = faultPart(parseSpec(text, file)); } catch { /* half-written file: next tick */ }
          }, () => undefined);
        }, 200);
        timer.unref();
      }
      // Tests check that faults really happened: the counts go to stderr (the mount log) at exit.
      let retries = 0;
      process.on('exit', () => {
        console.error(`TEST-ONLY faults: ${faulty.counts.calls} calls, ${faulty.counts.errors} injected errors, ${faulty.counts.hangs} hangs, ${retries} retries`);
      });
      return withRetry(faulty, { ...spec.retry, onRetry: () => { retries++; } });
    },
    stop() { if (timer) clearInterval(timer); },
  };
}
