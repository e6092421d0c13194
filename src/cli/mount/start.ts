import { withSquash } from '../../vfs/squash.js';
import { writeSync, closeSync } from 'node:fs';
import { access, mkdir, readdir, stat } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { FsError } from '../../errors/index.js';
import { mountCredsPath, readCreds, requireField, type Creds } from '../../config/creds.js';
import { OpenModeError, readPrivateFile } from '../../config/private-file.js';
import { parseSize } from '../../config/sizes.js';
import { findFuseMount, mountCore } from '../../fuse/index.js';
import { openMountStack, type MetaSourceConfig } from '../../mount/index.js';
import { openStore, parseSseMode } from '../../store/index.js';
import { mountRunDir, startMountTelemetry } from '../../ops/mount-telemetry.js';
import { MountControl, startMountControl } from '../../ops/mount-control.js';
import { countOps, instrumentOps } from '../../ops/op-metrics.js';
import type { Logger } from 'pino';
import { daemonLogger } from '../shared/log-options.js';
import type { MountStartFlags } from './flags.js';
import { parseAtTime } from '../../meta/history/window.js';
import { kernelTtls, parseStoreDeadline, parseUmask, splitProxyList, squashOptions } from './flags.js';
import { testFaultsFromEnv } from './test-faults.js';
import { cleanDeadMount } from './dead-mount.js';
import { TIMEOUTS } from '../../config/defaults.js';
import { recoveryFolderFor } from '../../recovery/index.js';

/**
 * Structured log (src/ops/log.ts) on stderr, which is the log file once the mount has daemonized,
 * or in --logFile. Levels: info by default, debug with --verbose. Messages never carry secrets.
 * runStart replaces this default logger with the one the log flags ask for.
 */
let logger: Logger = daemonLogger('mount.flexfs', {}, false);
const log = {
  info: (msg: string, fields: Record<string, unknown> = {}) => logger.info(fields, msg),
  warn: (msg: string, fields: Record<string, unknown> = {}) => logger.warn(fields, msg),
  error: (msg: string, fields: Record<string, unknown> = {}) => logger.error(fields, msg),
  debug: (msg: string, fields: Record<string, unknown> = {}) => logger.debug(fields, msg),
};

/** A failure already written to the structured log (main exits without printing it again). */
export class LoggedError extends Error {}

/** Checks that give a clear error before anything is opened. */
export async function checkMountpoint(mountpoint: string, nonEmpty: boolean): Promise<void> {
  // A mount a crashed daemon left behind would fail every check below (ENOTCONN): detach it first.
  if (await cleanDeadMount(mountpoint)) log.warn(`detached a dead flexfs mount left at ${mountpoint} by a process that is gone`, { mountpoint });
  const st = await stat(mountpoint).catch(() => undefined);
  if (!st) throw new Error(`mountpoint ${mountpoint} does not exist`);
  if (!st.isDirectory()) throw new Error(`mountpoint ${mountpoint} is not a directory`);
  if (await findFuseMount(mountpoint)) throw new Error(`${mountpoint} is already mounted (a second mount on it is refused)`);
  if (!nonEmpty && (await readdir(mountpoint)).length > 0) {
    throw new Error(`mountpoint ${mountpoint} is not empty (use --nonEmpty to mount over it)`);
  }
}

async function readSecret(flags: MountStartFlags, creds: Creds | undefined): Promise<string | undefined> {
  if (flags.secretFile) {
    const path = flags.secretFile;
    // the passphrase file is held to the creds files' rule: owner-only (chmod 600)
    const text = (await readPrivateFile(path, 'secret file').catch((e) => {
      if (e instanceof OpenModeError) throw e;
      throw new Error(`secret file ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    })).trim();
    if (!text) throw new Error(`secret file ${flags.secretFile} is empty`);
    return text;
  }
  const s = creds?.secret;
  return typeof s === 'string' && s ? s : undefined;
}

function notifySystemd(): void {
  if (!process.env.NOTIFY_SOCKET) return;
  execFile('systemd-notify', ['--ready', `--pid=${process.pid}`], () => undefined);
}

function reportReady(flags: MountStartFlags, line: string): void {
  if (flags.readyFd === undefined) return;
  const fd = Number(flags.readyFd);
  try { writeSync(fd, line + '\n'); closeSync(fd); } catch { /* the parent went away */ }
}

/** Mount the volume and serve it until SIGTERM/SIGINT or an external unmount. */
export async function runStart(volume: string, mountpointArg: string, flags: MountStartFlags): Promise<void> {
  const mountpoint = resolve(mountpointArg);
  logger = daemonLogger('mount.flexfs', flags, !!flags.verbose);
  try {
    await serve(volume, mountpoint, flags);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    reportReady(flags, `ERROR ${msg.replace(/\n/g, ' ')}`);
    // A daemonized mount's stderr is its structured log: the failure goes there as a record too
    // (the parent prints it to the user from the ready pipe).
    if (flags.readyFd !== undefined) {
      log.error(`mount failed: ${msg}`, { volume, mountpoint });
      logger.flush();
      throw new LoggedError(msg);
    }
    throw e;
  }
}

async function serve(volume: string, mountpoint: string, flags: MountStartFlags): Promise<void> {
  await checkMountpoint(mountpoint, !!flags.nonEmpty);
  const umask = flags.umask !== undefined ? parseUmask(flags.umask) : undefined;
  const ttls = kernelTtls(flags, !flags.local);
  const storeDeadlineMs = flags.storeDeadline !== undefined ? parseStoreDeadline(flags.storeDeadline) : undefined;
  const memCapacity = flags.memCapacity ? parseSize(flags.memCapacity, (await import('node:os')).totalmem()) : undefined;
  const diskQuota = flags.diskQuota ? parseSize(flags.diskQuota, await diskSize(flags.diskFolder)) : undefined;

  const credsPath = flags.credsFile ? resolve(flags.credsFile) : mountCredsPath(volume);
  let creds: Creds | undefined;
  if (flags.local) {
    creds = await access(credsPath).then(() => readCreds(credsPath), () => undefined);
  } else {
    creds = await readCreds(credsPath);
  }
  const secret = await readSecret(flags, creds);
  // --atTime: the volume's past, read-only (the window is checked when the metadata opens).
  const atTime = flags.atTime !== undefined ? parseAtTime(flags.atTime) : undefined;
  const ro = !!flags.ro || atTime !== undefined;
  // --sse / --sse=require on the mount (the stack adds the volume's sse setting).
  const sse = parseSseMode(flags.sse, '--sse');
  // Test-only fault injection (see test-faults.ts); unset in every real deployment.
  const testFaults = await testFaultsFromEnv(process.env.FLEXFS_TEST_FAULTS);
  if (testFaults) log.warn('TEST-ONLY fault injection is on (FLEXFS_TEST_FAULTS)');
  const stack = await openMountStack({
    volume, mountpoint, secret, credsPath, sse, log,
    meta: flags.local ? { kind: 'local', dir: flags.local, atTime } : remoteSource(credsPath, creds!, atTime),
    proxyCreds: creds, proxies: flags.proxy !== undefined ? splitProxyList(flags.proxy) : undefined,
    openStore: testFaults ? (bs) => testFaults.wrap(openStore(bs, { retry: false })) : undefined,
    // (injected faults would fail the check; the fault suites test what comes after the start)
    checkStore: flags.skipStoreCheck !== true && !testFaults,
    // What an unmount could not upload is saved there, and applied here before serving (not on
    // a read-only mount, which writes nothing).
    recoveryFolder: ro ? undefined : recoveryFolderFor(volume, flags.diskFolder),
    vfs: {
      memCapacity, diskFolder: flags.diskFolder, diskQuota, readOnly: ro, noAtime: !!flags.noATime,
      acl: flags.acl !== false, umask, attrTtlMs: ttls.cacheMs.unheard, attrTtlHeardMs: ttls.cacheMs.heard, putDeadlineMs: storeDeadlineMs, getDeadlineMs: storeDeadlineMs,
      ...testFaults?.deadlines,
    },
  });
  const { core, store } = stack;

  try {
    // With --metricsPort every operation is timed and its errors counted (src/ops/op-metrics.ts).
    // Every mount counts its operations (flexfs stats) and serves the operator tools on a control socket.
    // --rootSquash / --allSquash: every request's caller rewritten at the entry (vfs/squash.ts)
    const counted = countOps(withSquash(core, squashOptions(flags)));
    const opMetrics = flags.metricsPort ? instrumentOps(counted.fs) : undefined;
    const control = await startMountControl(new MountControl({
      volumeId: stack.settings.id, blockSize: stack.settings.blockSize, committedBlocks: (ino) => core.committedBlocks(ino),
      io: core.io, memory: core.memory, disk: core.disk, store, get dirtyBytes() { return core.dirtyBytes; }, counts: counted.counts,
    }), join(mountRunDir(), `${process.pid}.sock`)).catch((e: Error) => {
      log.warn(`control socket disabled (flexfs info, warmup, stats): ${e.message}`);
      return undefined;
    });
    let onUnmounted = () => undefined as void;
    // Status file for `flexfs status` and the opt-in Prometheus endpoint (--metricsPort), before
    // the mount: a metrics port that is bad or taken fails the start (asked for, not optional);
    // without one, a status file that cannot be written is only a warning.
    const telemetry = await startMountTelemetry(core, {
      volume, mountpoint, metricsAddr: flags.metricsPort, registerMetrics: opMetrics?.register, sseNotApplied: stack.sseNotApplied,
      controlSocket: control?.path,
    }).catch((e: Error) => {
      if (flags.metricsPort) throw new Error(`--metricsPort ${flags.metricsPort}: ${e.message}${/EADDRINUSE/.test(e.message) ? ' (the port is taken: pick another)' : ''}`);
      log.warn(`status file disabled: ${e.message}`);
      return undefined;
    });
    const mount = await mountCore(opMetrics?.fs ?? counted.fs, mountpoint, {
      fsname: volume, readOnly: stack.readOnly, noExec: !!flags.noExec, noSuid: !!flags.noSUID, noDev: !!flags.noDev,
      noAtime: !!flags.noATime, umask, acl: flags.acl !== false, timeouts: ttls.timeouts,
      writebackCache: flags.writebackCache === true,
      onError: errorReporter(), onUnmounted: () => onUnmounted(),
    }).catch(async (e: unknown) => {
      await telemetry?.stop().catch(() => undefined);
      await control?.stop().catch(() => undefined);
      throw e;
    });
    if (telemetry?.metricsAddr) log.info(`metrics on http://${telemetry.metricsAddr}/metrics`, { metricsAddr: telemetry.metricsAddr });
    // `kernel`: what the kernel and flexfs negotiated at FUSE INIT (versions, sizes, capability bits).
    log.info(`volume ${volume} mounted at ${mountpoint} (blocks: ${store.description})`,
      { volume, mountpoint, blocks: store.description, kernel: mount.session.connInfo() });
    reportReady(flags, 'READY');
    notifySystemd();

    let stopping = false;
    const shutdown = async (why: string, unmount: boolean) => {
      if (stopping) return;
      stopping = true;
      clearInterval(watch);
      await telemetry?.stop().catch(() => undefined);
      await control?.stop().catch(() => undefined);
      log.info(`${why}: flushing and unmounting ${mountpoint}`, { mountpoint });
      let code = 0;
      // Detach the mount first (lazily) so nothing new arrives through its path, then flush. Files
      // still held open keep the FUSE session alive: after a short grace the flush goes ahead (the
      // kernel ends the session when this process exits; their holders then get ENOTCONN).
      if (unmount) {
        const ended = mount.unmount().then(() => true, (e: Error) => { log.error(e.message); code = 1; return true; });
        const grace = new Promise<boolean>((r) => setTimeout(() => r(false), TIMEOUTS.unmountGraceMs).unref());
        if (!(await Promise.race([ended, grace]))) log.warn(`${mountpoint} is still in use: flushing before its last users let go`, { mountpoint });
      }
      // The stack flushes the VFS, then closes the codec, the block store and the metadata source.
      await stack.close().catch((e: Error & { records?: string[]; lost?: string[] }) => {
        // UnflushedDataError: the message names the recovery folder and the command that applies it.
        log.error(`flush failed: ${e.message}`, { records: e.records, lost: e.lost });
        code = 1;
      });
      log.info('stopped');
      logger.flush();
      process.exit(code);
    };
    // Someone ran umount/fusermount -u: flush and leave (the session says so; the poll is a backstop).
    onUnmounted = () => void shutdown('unmounted externally', false);
    const watch = setInterval(() => {
      findFuseMount(mountpoint).then((m) => { if (!m) void shutdown('unmounted externally', false); }, () => undefined);
    }, 2000);
    process.on('SIGTERM', () => void shutdown('SIGTERM', true));
    process.on('SIGINT', () => void shutdown('SIGINT', true));
  } catch (e) {
    await stack.close().catch(() => undefined);
    throw e;
  }
}

/** meta.flexfs address, volume token and TLS trust from the credentials file. */
export function remoteSource(credsPath: string, creds: Creds, atTime?: number): MetaSourceConfig {
  const addr = requireField(creds, 'metaAddr', credsPath);
  const token = requireField(creds, 'token', credsPath);
  const tls = {
    ca: typeof creds.metaCA === 'string' ? creds.metaCA : undefined,
    fingerprint: typeof creds.metaFingerprint === 'string' ? creds.metaFingerprint : undefined,
    insecure: creds.metaInsecure === true,
  };
  return { kind: 'remote', addr, token, tls, atTime };
}

/**
 * Failed operations reach the log: EIO (store, metadata server or a deadline) as warnings,
 * errors that are not FsErrors (bugs) as errors, at most one record a second per kind with a
 * count of the others, so a failing bucket cannot flood the log. With --verbose every failed
 * operation (ENOENT, EACCES… included) is also a debug record.
 */
function errorReporter(): (op: string, what: string, err: unknown) => void {
  const last = new Map<string, { at: number; suppressed: number }>();
  return (op, path, err) => {
    const code = (err as { code?: unknown })?.code;
    const fsError = err instanceof FsError;
    if (logger.isLevelEnabled('debug')) log.debug(`${op} ${path}: ${fsError ? code : 'unexpected error'}`, { op, path, errno: fsError ? code : undefined });
    if (fsError && code !== 'EIO') return;
    const io = code === 'EIO';
    const kind = io ? 'io' : 'unexpected';
    const now = Date.now();
    const seen = last.get(kind);
    if (seen && now - seen.at < 1000) { seen.suppressed++; return; }
    const suppressed = seen?.suppressed ?? 0;
    last.set(kind, { at: now, suppressed: 0 });
    // Store and codec errors name what failed without secrets (their contract); show the cause.
    const cause = (err as { cause?: unknown })?.cause;
    const why = cause instanceof Error ? ` (${cause.message})` : '';
    const msg = `${op} ${path}: ${err instanceof Error ? err.message : String(err)}${why}${suppressed ? ` (and ${suppressed} more since the last report)` : ''}`;
    if (io) log.warn(msg, { op, path, errno: 'EIO' });
    else log.error(msg, { op, path });
  };
}

async function diskSize(folder: string | undefined): Promise<number | undefined> {
  if (!folder) return undefined;
  const { statfs } = await import('node:fs/promises');
  await mkdir(folder, { recursive: true, mode: 0o700 });
  const s = await statfs(folder);
  return s.blocks * s.bsize;
}
