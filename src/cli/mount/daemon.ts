import { spawn } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { flexfsHome } from '../../config/creds.js';

/**
 * Daemonize: re-run ourselves detached with --foreground and --readyFd 3, output to a log file
 * under ~/.flexfs/mount/logs/ (the log itself, unless --logFile names another: `logFileFlag`), and wait until the child reports READY (exit 0) or ERROR / dies
 * (print why, exit 1). Nothing secret is on the argv we pass on.
 */
export async function daemonize(volume: string, childArgs: string[], logFileFlag?: string, timeoutMs = 180_000): Promise<never> {
  const dir = join(flexfsHome(), 'mount', 'logs');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const logPath = join(dir, `${volume}.log`);
  const logFile = await open(logPath, 'a', 0o600);
  const child = spawn(process.execPath, [process.argv[1], ...childArgs, '--foreground', '--readyFd', '3'], {
    detached: true,
    stdio: ['ignore', logFile.fd, logFile.fd, 'pipe'],
  });
  await logFile.close();
  const pipe = child.stdio[3] as NodeJS.ReadableStream;
  let text = '';
  const outcome = await new Promise<string>((resolve) => {
    const timer = setTimeout(() => resolve(`ERROR the mount did not become live within ${timeoutMs / 1000} s (see ${logPath})`), timeoutMs);
    pipe.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('\n')) { clearTimeout(timer); resolve(text.split('\n')[0]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); resolve(text.split('\n')[0] || `ERROR the mount process exited (${code}) before the mount was live (see ${logPath})`); });
  });
  if (outcome === 'READY') {
    console.log(`mounted (pid ${child.pid}, log ${logFileFlag ?? logPath})`);
    child.unref();
    process.exit(0);
  }
  console.error(`mount.flexfs: ${outcome.replace(/^ERROR /, '')}`);
  if (child.exitCode === null) child.kill('SIGTERM');
  process.exit(1);
}
