import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { access } from 'node:fs/promises';
import { metaCredsPath, readCreds, writeCreds, type Creds } from '../../config/creds.js';
import { readSecrets } from '../shared/secrets.js';
import { DEFAULT_META_PORT } from '../../meta/protocol/index.js';
import { defaultTlsDir, fail } from './common.js';
import { loadTls } from '../../meta/server/tls.js';
import { join } from 'node:path';
import { initSystemdUnit } from '../../ops/units.js';
import { urlHasPassword } from '../../meta/engines/index.js';

const CRED_KEYS = ['adminToken', 'blockUser', 'blockPass', 'redisPassword', 'redisSentinelPassword'];

export function registerInit(program: Command): void {
  const init = program.command('init').description('set up credentials or a systemd unit');

  init.command('creds')
    .description('write the server creds file; reads adminToken, blockUser, blockPass, redisPassword, redisSentinelPassword as key=value lines on stdin (or prompts on a TTY); generates adminToken when none is given')
    .option('--credsFile <path>', 'creds file (default ~/.flexfs/meta/creds)')
    .action((flags: { credsFile?: string }) => initCreds(flags).catch(fail));

  init.command('systemd')
    .description('print the packaged systemd unit and the env file carrying these flags (--now installs both)')
    .option('--bindAddr <host:port>', `listen address (default 0.0.0.0:${DEFAULT_META_PORT})`)
    .option('--dbFolder <dir>', 'database folder')
    .option('--engine <engine>', 'sqlite or redis://… (default sqlite)')
    .option('--sync', 'fsync every metadata commit')
    .option('--noSSL', 'plain HTTP')
    .option('--credsFile <path>', 'creds file')
    .option('--now', 'write the packaged unit and /etc/flexfs/meta.env (these flags), then reload systemd')
    .option('--unitDir <dir>', 'where --now writes the unit', '/etc/systemd/system')
    .option('--envDir <dir>', 'where --now writes meta.env', '/etc/flexfs')
    .action((flags: SystemdFlags) => initSystemd(flags).catch(fail));
}

async function initCreds(flags: { credsFile?: string }): Promise<void> {
  const path = flags.credsFile ?? metaCredsPath();
  const given = await readSecrets(CRED_KEYS, { adminToken: 'admin token (empty: generate)', blockUser: 'bucket access key (empty: ambient)', blockPass: 'bucket secret key', redisPassword: 'redis password (empty: none)', redisSentinelPassword: 'redis Sentinel password (empty: none)' });
  let existing: Creds = {};
  if (await access(path).then(() => true, () => false)) existing = await readCreds(path, { allowOpenMode: true }); // rewritten 0600 below
  const creds: Creds = { ...existing, ...given };
  let generated = false;
  if (!creds.adminToken) { creds.adminToken = randomBytes(32).toString('base64url'); generated = true; }
  if (creds.blockUser && !creds.blockPass) throw new Error('blockUser given without blockPass');
  await writeCreds(path, creds);
  process.stdout.write(`wrote ${path} (mode 0600)${generated ? '; generated a new admin token (stored there)' : ''}\n`);
  await printFingerprint();
}

/**
 * The self-signed certificate `start` will serve (made now if it does not exist yet), so the
 * operator can hand its fingerprint to the clients before the server ever runs.
 */
async function printFingerprint(): Promise<void> {
  const dir = defaultTlsDir();
  const tls = await loadTls({ dir });
  process.stdout.write(`TLS certificate ${join(dir, 'cert.pem')} (served by "start" unless given --sslCert), SHA-256 fingerprint:\n`
    + `  ${tls.fingerprint}\n`
    + `clients pin it: mount.flexfs init creds <volume> --metaAddr <this host>:${DEFAULT_META_PORT} --metaFingerprint ${tls.fingerprint}\n`);
}

interface SystemdFlags {
  bindAddr?: string; dbFolder?: string; engine?: string; sync?: boolean; noSSL?: boolean; credsFile?: string;
  now?: boolean; unitDir: string; envDir: string;
}

/** `start` flags for /etc/flexfs/meta.env (the packaged unit passes them to meta.flexfs start). */
export function startArgs(flags: SystemdFlags): string[] {
  const args: string[] = [];
  if (flags.bindAddr) args.push('--bindAddr', flags.bindAddr);
  if (flags.engine) args.push('--engine', flags.engine);
  if (flags.dbFolder) args.push('--dbFolder', flags.dbFolder);
  if (flags.sync) args.push('--sync');
  if (flags.noSSL) args.push('--noSSL');
  if (flags.credsFile) args.push('--credsFile', flags.credsFile);
  return args;
}

async function initSystemd(flags: SystemdFlags): Promise<void> {
  // meta.env is world-readable and its flags end up in argv: no password may go there.
  if (flags.engine && urlHasPassword(flags.engine)) {
    throw new Error('--engine: the redis URL carries a password; put it in the server creds file as redisPassword (or redisSentinelPassword) instead');
  }
  await initSystemdUnit({ unit: 'flexfs-meta.service', daemon: 'meta', args: startArgs(flags), now: flags.now,
    unitDir: flags.unitDir, envDir: flags.envDir }, (t) => process.stdout.write(t));
}
