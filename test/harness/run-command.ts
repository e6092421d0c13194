import { spawn } from 'node:child_process';

export interface CommandResult {
  /** Exit code; -1 when the process ended by a signal (e.g. killed at the deadline). */
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Run a command to completion (for CLI tests): `env` is added to this process's environment,
 * `stdin` is piped in, and the process is SIGKILLed after `timeoutMs` so a test never hangs.
 */
export function runCommand(cmd: string, args: string[],
  opts: { env?: NodeJS.ProcessEnv; stdin?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    p.on('error', (e) => { clearTimeout(timer); reject(e); });
    p.on('close', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, stdout, stderr }); });
    p.stdin.on('error', () => undefined); // a CLI that exits without reading stdin: EPIPE is not a failure
    p.stdin.end(opts.stdin ?? '');
  });
}
