import { Command, Option } from 'commander';
import { daemonize } from './daemon.js';
import { checkStartFlagValues, type MountStartFlags } from './flags.js';
import { START_HELP } from './help.js';
import { helperInvocation } from './helper.js';
import { deinitCreds, deinitFstab, initCreds, initFstab } from './init.js';
import type { TrustFlags } from './init-trust.js';
import { LoggedError, runStart } from './start.js';
import { sseOption } from '../shared/sse-option.js';
import { addVersion } from '../shared/version.js';
import { addLogOptions } from '../shared/log-options.js';
import { exitWithError, UsageError } from '../shared/flag-values.js';

/** mount.flexfs: the mount client CLI and the mount(8) helper (`mount -t flexfs vol /mnt -o opts`). */

/** MountStartFlags back to argv for the daemon child (only flags that were set). */
function flagsToArgs(flags: MountStartFlags): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(flags)) {
    if (k === 'foreground' || k === 'readyFd' || v === undefined) continue;
    if (k === 'acl') { // the one switch that is on by default
      if (v === false) out.push('--no-acl');
      continue;
    }
    if (v === false) continue;
    // `--sse=require` keeps its value attached (a bare --sse takes no value).
    if (k === 'sse' && v !== true) { out.push(`--sse=${String(v)}`); continue; }
    out.push(`--${k}`);
    if (v !== true) out.push(String(v));
  }
  return out;
}

async function start(volume: string, mountpoint: string, flags: MountStartFlags): Promise<void> {
  checkStartFlagValues(flags);
  if (!flags.foreground && !process.env.NOTIFY_SOCKET) {
    await daemonize(volume, ['start', volume, mountpoint, ...flagsToArgs(flags)], flags.logFile);
  }
  await runStart(volume, mountpoint, flags);
}

function fail(e: unknown): never {
  if (e instanceof LoggedError) process.exit(1);
  exitWithError('mount.flexfs', e);
}

export function buildProgram(): Command {
  const program = new Command('mount.flexfs').description('flexfs mount client')
    // A usage error is 2 (the four binaries' convention: 0 ok, 1 runtime failure, 2 usage);
    // set before the subcommands are added, so they inherit it.
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  addVersion(program);
  addLogOptions(program.command('start <volume> <mountpoint>').description('mount a volume'))
    .option('--local <dir>', 'embedded metadata (sqlite) and blocks in DIR; the volume is created on first use')
    .option('--sse [require]', 'request server-side encryption (AES256) on every PUT and warn when the store does not apply it; '
      + '--sse=require refuses such writes instead (EIO)', sseOption('--sse',
      ' (a bare --sse followed by a word takes it as its value: put --sse after the volume and mountpoint)'))
    .option('--ro', 'mount read-only')
    .option('--atTime <time>', 'mount read-only the volume as it was then (ISO 8601, e.g. 2026-12-04T10:00:00Z), inside its history window (retention)')
    .option('--noATime', 'do not update access times')
    .option('--noExec', 'do not allow executing files')
    .option('--noSUID', 'ignore setuid/setgid bits')
    .option('--noDev', 'ignore device files')
    .option('--nonEmpty', 'allow mounting over a non-empty directory')
    .option('--umask <octal>', 'mask permission bits of every file (e.g. 022)')
    .option('--rootSquash <uid:gid>', 'callers with uid 0 act as uid:gid (permission checks and new files\' owner; default: off)')
    .option('--allSquash <uid:gid>', 'every caller acts as uid:gid (default: off)')
    .option('--acl', 'POSIX ACLs: getfacl/setfacl, cp -a, default ACLs; the kernel and flexfs check them (default)')
    .option('--no-acl', 'no POSIX ACLs: system.posix_acl_* answer EOPNOTSUPP, permission checks use the mode bits')
    .option('--foreground', 'stay in the foreground (default: daemonize once mounted)')
    .option('--credsFile <path>', 'credentials file (default ~/.flexfs/mount/creds/<volume>)')
    .option('--secretFile <path>', 'file holding the E2E passphrase (instead of "secret" in the creds file); must be owner-only (chmod 600)')
    .option('--memCapacity <size>', START_HELP.memCapacity)
    .option('--diskFolder <dir>', 'disk block cache folder')
    .option('--diskQuota <size>', START_HELP.diskQuota)
    .option('--verbose', 'log unexpected operation errors')
    .option('--metricsPort <[host:]port>', 'serve Prometheus metrics on this address (default host 127.0.0.1)')
    .option('--storeDeadline <duration>', START_HELP.storeDeadline)
    .option('--skipStoreCheck', 'mount even if the block store does not answer at start (default: check it and refuse)')
    .option('--writebackCache', 'let the kernel buffer writes in its page cache and send them at writeback, close or fsync (default off; docs/FUSE.md)')
    .option('--attrTTL <seconds>', START_HELP.attrTTL)
    .option('--entryTTL <seconds>', START_HELP.entryTTL)
    .option('--negativeTTL <seconds>', START_HELP.negativeTTL)
    .option('--proxy <list>', 'read and write blocks through proxy.flexfs: host:port[,host:port…] (default: the volume\'s proxies setting)')
    .addOption(new Option('--readyFd <fd>').hideHelp())
    .action((volume: string, mountpoint: string, flags: MountStartFlags) => start(volume, mountpoint, flags).catch(fail));

  const init = program.command('init').description('set up credentials or fstab');
  init.command('creds <volume>').description('write ~/.flexfs/mount/creds/<volume>; token, secret and proxyToken from stdin (key=value lines) or a prompt')
    .option('--metaAddr <addr>', 'meta.flexfs address host:port')
    .option('--credsFile <path>', 'write here instead')
    .option('--metaCA <file>', 'pin the meta server\'s certificate: a copy of its cert.pem')
    .option('--metaFingerprint <sha256>', 'pin the meta server\'s certificate by SHA-256 fingerprint (AB:CD:…, as meta.flexfs prints it)')
    .option('--trustOnFirstUse', 'connect once, pin the certificate the meta server presents and print its fingerprint')
    .option('--proxyCA <file>', 'PEM bundle of the proxies\' certificates')
    .option('--proxyFingerprint <list>', 'pin the proxies\' certificates by SHA-256 fingerprint (comma-separated)')
    .option('--proxyTrustOnFirstUse <host:port,…>', 'connect once to each proxy, pin the certificates they present')
    .option('--proxyInsecure', 'do not check the proxies\' certificates (tests only)')
    .option('--proxyNoSSL', 'the proxies run with --noSSL (plain HTTP)')
    .action((volume: string, o: { metaAddr?: string; credsFile?: string } & TrustFlags) => initCreds(volume, o).catch(fail));
  init.command('fstab <volume> <mountpoint>').description('add an fstab line for the volume')
    .option('--mountOptions <opts>', 'extra mount options, e.g. sse,ro')
    .option('--now', 'mount it right away')
    .option('--force', 'replace an existing line for this mountpoint')
    .action((volume: string, mp: string, o: { mountOptions?: string; now?: boolean; force?: boolean }) => initFstab(volume, mp, o).catch(fail));

  const deinit = program.command('deinit').description('undo init');
  deinit.command('creds <volume>').option('--credsFile <path>').action((v: string, o: { credsFile?: string }) => deinitCreds(v, o).catch(fail));
  deinit.command('fstab <mountpoint>').action((mp: string) => deinitFstab(mp).catch(fail));

  return program;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let helper: ReturnType<typeof helperInvocation>;
  try {
    helper = helperInvocation(argv);
  } catch (e) {
    // mount(8)'s argv or -o options that make no sense: a usage error
    fail(new UsageError(e instanceof Error ? e.message : String(e)));
  }
  if (helper) {
    if (helper.fake) process.exit(0);
    await start(helper.volume, helper.mountpoint, helper.flags);
    return;
  }
  await buildProgram().parseAsync(process.argv);
}

main().catch(fail);
