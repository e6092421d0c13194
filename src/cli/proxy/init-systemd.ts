import type { Command } from 'commander';
import { DEFAULT_MAX_CONNECTIONS } from '../../util/listener-limits.js';
import { GET_LIMIT_DEFAULTS } from '../../proxy/get-limits.js';
import { PUT_LIMIT_DEFAULTS } from '../../proxy/put-limits.js';
import { resolve } from 'node:path';
import { initSystemdUnit } from '../../ops/units.js';
import { addStartOptions, type ProxyStartFlags } from './options.js';

/**
 * `init systemd`: prints (or with --now installs) the packaged flexfs-proxy.service and the
 * /etc/flexfs/proxy.env that carries these `start` flags. Flags only: secrets stay in the creds file.
 */
export function registerInitSystemd(init: Command): void {
  addStartOptions(init.command('systemd').description('print the packaged systemd unit and the env file carrying these start flags (--now installs both)'))
    .option('--now', 'write the unit and /etc/flexfs/proxy.env, then reload systemd')
    .option('--unitDir <dir>', 'where --now writes the unit', '/etc/systemd/system')
    .option('--envDir <dir>', 'where --now writes proxy.env', '/etc/flexfs')
    .option('--print', 'print only (the default without --now; kept for scripts)')
    .action(async (flags: ProxyStartFlags & { now?: boolean; unitDir: string; envDir: string }, cmd: Command) => {
      try {
        const given = (name: string) => cmd.getOptionValueSource(name) === 'cli';
        await initSystemdUnit({ unit: 'flexfs-proxy.service', daemon: 'proxy', args: startArgs(flags, given), now: flags.now,
          unitDir: flags.unitDir, envDir: flags.envDir }, (t) => process.stdout.write(t));
      } catch (e) {
        process.stderr.write(`proxy.flexfs: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
        process.exit(1);
      }
    });
}

/**
 * `start` flags for /etc/flexfs/proxy.env. The unit runs as user flexfs with FLEXFS_HOME=
 * /var/lib/flexfs and its own cache folder, so the creds file and disk folder are passed only when
 * given on this command line (the defaults of whoever runs `init systemd` would be their own home),
 * and never from under /root or /home, which the unit cannot read (ProtectHome=yes).
 */
export function startArgs(flags: ProxyStartFlags, given: (flag: string) => boolean = () => true): string[] {
  const args: string[] = ['--store', flags.store, '--bindAddr', flags.bindAddr, '--diskQuota', flags.diskQuota];
  for (const [flag, value] of [['diskFolder', flags.diskFolder], ['credsFile', flags.credsFile], ['sslCert', flags.sslCert], ['sslKey', flags.sslKey]] as const) {
    if (!value || !given(flag)) continue;
    const path = resolve(value);
    if (/^\/(root|home)(\/|$)/.test(path)) {
      throw new Error(`--${flag} ${path} is under a home folder, which the unit cannot read (ProtectHome=yes); use a path under /var/lib/flexfs or /etc/flexfs`);
    }
    args.push(`--${flag}`, path);
  }
  if (flags.endpoint) args.push('--endpoint', flags.endpoint);
  if (flags.region) args.push('--region', flags.region);
  if (flags.pathStyle) args.push('--pathStyle');
  if (flags.keyPrefix) args.push('--keyPrefix', flags.keyPrefix);
  if (flags.sse) args.push(flags.sse === 'require' ? '--sse=require' : '--sse');
  if (flags.noSSL) args.push('--noSSL');
  if (flags.verbose) args.push('--verbose');
  // the journal is the unit's log; pass the log flags only when asked for
  for (const flag of ['logFormat', 'logFile', 'logMaxSize', 'logKeep'] as const) {
    if (flags[flag] !== undefined && given(flag)) args.push(`--${flag}`, String(flags[flag]));
  }
  if (flags.maxConnections !== undefined && Number(flags.maxConnections) !== DEFAULT_MAX_CONNECTIONS) args.push('--maxConnections', String(flags.maxConnections));
  for (const [flag, value, def] of [['maxGets', flags.maxGets, GET_LIMIT_DEFAULTS.maxGets], ['maxFetches', flags.maxFetches, GET_LIMIT_DEFAULTS.maxFetches],
    ['maxQueuedGets', flags.maxQueuedGets, GET_LIMIT_DEFAULTS.maxQueued], ['maxPuts', flags.maxPuts, PUT_LIMIT_DEFAULTS.maxPuts],
    ['maxQueuedPuts', flags.maxQueuedPuts, PUT_LIMIT_DEFAULTS.maxQueued]] as const) {
    if (value !== undefined && Number(value) !== def) args.push(`--${flag}`, String(value));
  }
  return args;
}
