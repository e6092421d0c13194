import { execFile } from 'node:child_process';
import { join } from 'node:path';

/** Result of one fio job: bandwidth, operations per second and fio's own runtime. */
export interface FioResult {
  bwBytes: number;
  iops: number;
  runtimeMs: number;
  /** Wall-clock time of the fio process (start-up included). */
  wallMs: number;
}

export interface FioEnv {
  dir: string;
  size: string;
  runtimeSec: number;
  nrfiles: number;
}

/** Run packaging/fio/<job>.fio against `env.dir`; rejects with fio's stderr on failure or timeout. */
export function runFio(jobDir: string, job: string, env: FioEnv, timeoutMs: number): Promise<FioResult> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    execFile('fio', ['--output-format=json', join(jobDir, `${job}.fio`)], {
      timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 2 ** 20,
      env: { ...process.env, BENCH_DIR: env.dir, BENCH_SIZE: env.size, BENCH_RUNTIME: String(env.runtimeSec), BENCH_NRFILES: String(env.nrfiles) },
    }, (err, stdout, stderr) => {
      const wallMs = performance.now() - t0;
      if (err) {
        const why = (err as NodeJS.ErrnoException & { killed?: boolean }).killed ? `timed out after ${timeoutMs} ms` : err.message;
        reject(new Error(`fio ${job} failed: ${why}\n${stderr.slice(-2000)}`));
        return;
      }
      try {
        // fio may print notes before the JSON document.
        const j = JSON.parse(stdout.slice(stdout.indexOf('{'))) as { jobs: FioJob[] };
        const r = j.jobs[0];
        if (r.error) throw new Error(`fio ${job}: job error ${r.error}`);
        const dir = r.write.io_bytes > 0 || r.write.total_ios > 0 ? r.write : r.read;
        resolve({ bwBytes: dir.bw_bytes, iops: dir.iops, runtimeMs: dir.runtime || r.job_runtime, wallMs });
      } catch (e) {
        reject(new Error(`fio ${job}: cannot parse output: ${(e as Error).message}\n${stderr.slice(-2000)}`));
      }
    });
  });
}

interface FioDir { io_bytes: number; bw_bytes: number; iops: number; runtime: number; total_ios: number }
interface FioJob { error: number; job_runtime: number; read: FioDir; write: FioDir }

export function fioInstalled(): Promise<boolean> {
  return new Promise((ok) => execFile('fio', ['--version'], (err) => ok(!err)));
}
