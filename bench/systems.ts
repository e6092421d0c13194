import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeCreds } from '../src/config/creds.js';
import { AdminClient } from '../src/meta/client/index.js';
import { freePort, waitFor } from '../test/harness/ports.js';
import type { Rgw } from '../test/harness/rgw.js';
import { startDaemon, type MountDaemon } from './daemon.js';

/**
 * The filesystems under test. Each gives fio a folder (`dir`), can remount for cold reads, and
 * knows whether data is in its bucket when fio's end_fsync returns (`durable`).
 */
export interface BenchSystem {
  key: string;
  label: string;
  /** fsync/close means the data is in the backing store (false: rclone's write-back cache). */
  durable: boolean;
  dir: string;
  /** Pid of the process serving the mount (for VmHWM); undefined for local disk. */
  pid?: number;
  start(): Promise<void>;
  /** Empty the client's caches for a cold read (remount), where that keeps the data. */
  remount(): Promise<void>;
  stop(): Promise<void>;
}

/** Repository root (this file runs as dist/bench/systems.js). */
export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export class LocalDisk implements BenchSystem {
  key = 'disk'; label = 'local disk'; durable = true;
  constructor(public dir: string) {}
  async start() { await mkdir(this.dir, { recursive: true }); }
  async remount() {}
  async stop() {}
}

/** A FUSE mount served by a child process; `remount` stops and restarts it. */
abstract class DaemonSystem implements BenchSystem {
  abstract key: string; abstract label: string; abstract durable: boolean;
  protected daemon?: MountDaemon;
  constructor(public dir: string) {}
  get pid() { return this.daemon?.pid; }
  protected abstract launch(): Promise<MountDaemon>;
  async start() { this.daemon = await this.launch(); }
  async remount() { await this.stop(); await this.start(); }
  async stop() { await this.daemon?.stop(); this.daemon = undefined; }
  output() { return this.daemon?.output() ?? ''; }
}

export class NullMount extends DaemonSystem {
  key = 'null'; label = 'null FUSE (ceiling)'; durable = true;
  protected launch() {
    return startDaemon({ cmd: process.execPath, args: [join(REPO, 'dist', 'bench', 'nullfs-main.js'), this.dir], mountpoint: this.dir, cwd: REPO });
  }
  // Remounting would lose the (in-memory) file: the cold read drops the kernel cache only.
  override async remount() {}
}

/** mount.flexfs in the foreground; `source` is `--local DIR` or `--credsFile FILE`. */
export class FlexfsMount extends DaemonSystem {
  durable = true;
  nodeArgs: string[] = [];
  constructor(public key: string, public label: string, dir: string, private source: string[]) { super(dir); }
  protected launch() {
    return startDaemon({
      cmd: process.execPath,
      args: [...this.nodeArgs, join(REPO, 'dist', 'src', 'cli', 'mount', 'main.js'), 'start', 'bench', this.dir, ...this.source, '--foreground'],
      mountpoint: this.dir, cwd: REPO,
    });
  }
}

export function which(cmd: string): Promise<boolean> {
  return new Promise((ok) => execFile('sh', ['-c', `command -v ${cmd}`], (err) => ok(!err)));
}

/** s3fs-fuse against an RGW bucket; keys in a 0600 passwd_file. Durable at close/fsync. */
export class S3fsMount extends DaemonSystem {
  key = 's3fs'; label = 's3fs'; durable = true;
  constructor(dir: string, private rgw: Rgw, private bucket: string, private passwdFile: string) { super(dir); }
  protected launch() {
    return startDaemon({
      cmd: 's3fs',
      args: [this.bucket, this.dir, '-f', '-o', `url=${this.rgw.endpoint},use_path_request_style,endpoint=${this.rgw.region},passwd_file=${this.passwdFile}`],
      mountpoint: this.dir,
    });
  }
}

/** rclone mount with --vfs-cache-mode writes; the remote is defined in env (RCLONE_CONFIG_*). */
export class RcloneMount extends DaemonSystem {
  key = 'rclone'; label = 'rclone (vfs writes)'; durable = false;
  constructor(dir: string, private rgw: Rgw, private bucket: string, private cacheDir: string) { super(dir); }
  protected async launch() {
    return startDaemon({
      cmd: 'rclone',
      args: ['mount', `rgw:${this.bucket}`, this.dir, '--vfs-cache-mode', 'writes', '--cache-dir', this.cacheDir, '--config', '/dev/null'],
      mountpoint: this.dir,
      env: {
        RCLONE_CONFIG_RGW_TYPE: 's3', RCLONE_CONFIG_RGW_PROVIDER: 'Ceph', RCLONE_CONFIG_RGW_ENDPOINT: this.rgw.endpoint,
        RCLONE_CONFIG_RGW_REGION: this.rgw.region, RCLONE_CONFIG_RGW_ACCESS_KEY_ID: this.rgw.accessKey,
        RCLONE_CONFIG_RGW_SECRET_ACCESS_KEY: this.rgw.secretKey,
        // rclone 1.60 cannot load a CA bundle into its own transport (and the endpoint is plain http).
        AWS_CA_BUNDLE: undefined,
      },
    });
  }
}

/** s3fs wants "bucket:key:secret" or "key:secret" in a file only its owner can read. */
export async function writeS3fsPasswd(file: string, rgw: Rgw): Promise<void> {
  const { writeFile, chmod } = await import('node:fs/promises');
  await writeFile(file, `${rgw.accessKey}:${rgw.secretKey}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
}

/**
 * meta.flexfs (sqlite engine, TLS) with one volume whose blocks go to `bucket` on the RGW; the
 * bucket keys reach mounts through the server (blockUser/blockPass in its creds file). Returns
 * the mount's creds file (metaAddr, token, CA), and the server's port and CA file (for its /metrics).
 */
export async function startMetaServer(work: string, rgw: Rgw, bucket: string): Promise<{ credsFile: string; port: number; ca: string; stop(): Promise<void>; output(): string }> {
  const home = join(work, 'meta-home');
  const adminToken = `bench-admin-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  await writeCreds(join(home, 'meta', 'creds'), { adminToken, blockUser: rgw.accessKey, blockPass: rgw.secretKey });
  const port = await freePort();
  let out = '';
  const child: ChildProcess = spawn(process.execPath,
    [join(REPO, 'dist', 'src', 'cli', 'meta', 'main.js'), 'start', '--bindAddr', `127.0.0.1:${port}`, '--dbFolder', join(work, 'meta-db')],
    { env: { ...process.env, FLEXFS_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-10_000); });
  child.stderr!.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-10_000); });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const stop = async () => {
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  try {
    const ca = join(home, 'meta', 'tls', 'cert.pem');
    const admin = new AdminClient(`127.0.0.1:${port}`, adminToken, { ca });
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`meta.flexfs exited: ${out}`);
      await admin.listVolumes();
      return true;
    }, 60_000, 'meta.flexfs to answer', 200);
    await admin.createVolume({
      name: 'bench',
      blockStore: { url: `s3://${bucket}/flexfs`, endpoint: rgw.endpoint, region: rgw.region, pathStyle: true, credentials: 'static' },
    });
    const { secret } = await admin.createToken({ volume: 'bench' });
    const credsFile = join(work, 'mount-creds');
    await writeCreds(credsFile, { metaAddr: `127.0.0.1:${port}`, token: secret, metaCA: ca });
    return { credsFile, port, ca, stop, output: () => out };
  } catch (e) {
    await stop();
    throw e;
  }
}

export async function emptyDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
}
