import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { waitFor } from './ports.js';

/**
 * Two processes contending for locks on a mounted file (python3's fcntl module, util-linux
 * flock): a holder that keeps a lock until told to let go, and probes from other processes.
 */
const run = promisify(execFile);
export const F_WRLCK = 1;

/** A process that takes a lock on `file` and holds it until its stdin closes. */
const HOLDER = `
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
if sys.argv[2] == 'flock': fcntl.flock(fd, fcntl.LOCK_EX)
else: fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0)
print('locked', os.getpid(), flush=True)
sys.stdin.readline()
`;

/** Try conflicting and free POSIX locks and F_GETLK from another process; prints JSON. */
const PROBE = `
import errno, fcntl, json, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDWR)
out = {}
for name, start in (('ex0', 0), ('ex100', 100)):
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, start)
        out[name] = 'ok'
    except OSError as e:
        out[name] = errno.errorcode[e.errno]
fmt = 'hhxxxxqqixxxx'  # struct flock on x86_64 / aarch64
t, w, s, l, pid = struct.unpack(fmt, fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack(fmt, fcntl.F_WRLCK, 0, 0, 10, 0)))
out['getlk'] = [t, s, l, pid]
print(json.dumps(out))
`;

export interface Holder { pid: number; child: ChildProcess; done: Promise<void> }

export async function hold(file: string, kind: 'posix' | 'flock'): Promise<Holder> {
  const child = spawn('python3', ['-c', HOLDER, file, kind], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const done = new Promise<void>((r) => child.on('exit', () => r()));
  await waitFor(async () => /locked \d+/.test(out) || child.exitCode !== null, 10_000, 'the holder to take its lock', 20);
  const m = /locked (\d+)/.exec(out);
  if (!m) throw new Error(`holder failed: ${out}`);
  return { pid: Number(m[1]), child, done };
}

export async function release(h: Holder): Promise<void> {
  h.child.stdin!.end();
  await h.done;
}

export const probe = async (file: string): Promise<{ ex0: string; ex100: string; getlk: number[] }> =>
  JSON.parse((await run('python3', ['-c', PROBE, file])).stdout);
export const flockNb = async (file: string, shared = false): Promise<number> =>
  run('flock', ['-n', shared ? '-s' : '-x', file, 'true']).then(() => 0, (e: { code?: number }) => e.code ?? -1);


/**
 * A process that asks for a blocking lock (F_SETLKW through lockf, or flock without LOCK_NB) on
 * `file` once started, says `asking` first and `got` (or the errno name) after, then holds until
 * its stdin closes.
 */
const WAITER = `
import errno, fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
print('asking', os.getpid(), flush=True)
try:
    if sys.argv[2] == 'flock': fcntl.flock(fd, fcntl.LOCK_EX)
    else: fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0)
    print('got', flush=True)
except OSError as e:
    print(errno.errorcode[e.errno], flush=True)
sys.stdin.readline()
`;

/**
 * Deadlock across two files: lock byte 0 of argv[1] (F_SETLK), say `locked`, wait for a line on
 * stdin, then F_SETLKW byte 0 of argv[2]: say `got` or the errno name, hold until stdin closes.
 */
const CROSSER = `
import errno, fcntl, os, sys
a = os.open(sys.argv[1], os.O_RDWR)
b = os.open(sys.argv[2], os.O_RDWR)
fcntl.lockf(a, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0)
print('locked', os.getpid(), flush=True)
sys.stdin.readline()
try:
    fcntl.lockf(b, fcntl.LOCK_EX, 1, 0)
    print('got', flush=True)
except OSError as e:
    print(errno.errorcode[e.errno], flush=True)
sys.stdin.readline()
`;

/** A python child whose output lines can be awaited. */
export interface Talker {
  child: ChildProcess;
  /** Every line printed so far (stderr too). */
  lines(): string[];
  /** Wait until a line matches (fails after `ms`). */
  saw(re: RegExp, ms?: number): Promise<string>;
  say(line: string): void;
  /** Close stdin and wait for the exit. */
  end(): Promise<void>;
  done: Promise<void>;
}

function talker(script: string, args: string[]): Talker {
  const child = spawn('python3', ['-c', script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const done = new Promise<void>((r) => child.on('exit', () => r()));
  const lines = () => out.split('\n').filter((l) => l !== '');
  return {
    child, lines, done,
    async saw(re, ms = 20_000) {
      await waitFor(async () => lines().some((l) => re.test(l)) || child.exitCode !== null, ms, `a line matching ${re}`, 20);
      const l = lines().find((x) => re.test(x));
      if (!l) throw new Error(`the child exited without printing ${re}: ${out}`);
      return l;
    },
    say(line) { child.stdin!.write(`${line}\n`); },
    async end() { child.stdin!.end(); await done; },
  };
}

export const waiter = (file: string, kind: 'posix' | 'flock'): Talker => talker(WAITER, [file, kind]);
export const crosser = (first: string, second: string): Talker => talker(CROSSER, [first, second]);
