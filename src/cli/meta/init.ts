import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { metaCredsPath, readCreds, writeCreds, type Creds } from '../../config/creds.js';
import { readSecrets } from '../shared/secrets.js';
import { DEFAULT_META_PORT } from '../../meta/protocol/index.js';
import { fail } from './common.js';

const CRED_KEYS = ['adminToken', 'blockUser', 'blockPass'];

export function registerInit(program: Command): void {
  const init = program.command('init').description('set up credentials or a systemd unit');

  init.command('creds')
    .description('write the server creds file; reads adminToken, blockUser, blockPass as key=value lines on stdin (or prompts on a TTY); generates adminToken when none is given')
    .option('--credsFile <path>', 'creds file (default ~/.flexfs/meta/creds)')
    .action((flags: { credsFile?: string }) => initCreds(flags).catch(fail));

  init.command('systemd')
    .description('print a systemd unit for meta.flexfs (--now installs it)')
    .option('--bindAddr <host:port>', 'listen address', `0.0.0.0:${DEFAULT_META_PORT}`)
    .option('--dbFolder <dir>', 'database folder')
    .option('--engine <engine>', 'sqlite or redis://…', 'sqlite')
    .option('--sync', 'fsync every metadata commit')
    .option('--noSSL', 'plain HTTP')
    .option('--credsFile <path>', 'creds file')
    .option('--binPath <path>', 'meta.flexfs executable', '/usr/sbin/meta.flexfs')
    .option('--now', 'write the unit to /etc/systemd/system and reload systemd')
    .option('--unitDir <dir>', 'where --now writes the unit', '/etc/systemd/system')
    .action((flags: SystemdFlags) => initSystemd(flags).catch(fail));
}

async function initCreds(flags: { credsFile?: string }): Promise<void> {
  const path = flags.credsFile ?? metaCredsPath();
  const given = await readSecrets(CRED_KEYS, { adminToken: 'admin token (empty: generate)', blockUser: 'bucket access key (empty: ambient)', blockPass: 'bucket secret key' });
  let existing: Creds = {};
  if (await access(path).then(() => true, () => false)) existing = await readCreds(path);
  const creds: Creds = { ...existing, ...given };
  let generated = false;
  if (!creds.adminToken) { creds.adminToken = randomBytes(32).toString('base64url'); generated = true; }
  if (creds.blockUser && !creds.blockPass) throw new Error('blockUser given without blockPass');
  await writeCreds(path, creds);
  process.stdout.write(`wrote ${path} (mode 0600)${generated ? '; generated a new admin token (stored there)' : ''}\n`);
}

interface SystemdFlags {
  bindAddr: string; dbFolder?: string; engine: string; sync?: boolean; noSSL?: boolean; credsFile?: string;
  binPath: string; now?: boolean; unitDir: string;
}

export function systemdUnit(flags: Omit<SystemdFlags, 'now' | 'unitDir'>): string {
  const args = ['start', '--bindAddr', flags.bindAddr, '--engine', flags.engine];
  if (flags.dbFolder) args.push('--dbFolder', flags.dbFolder);
  if (flags.sync) args.push('--sync');
  if (flags.noSSL) args.push('--noSSL');
  if (flags.credsFile) args.push('--credsFile', flags.credsFile);
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `"${a.replace(/(["\\])/g, '\\$1')}"`);
  return [
    '[Unit]',
    'Description=flexfs metadata server (meta.flexfs)',
    'Documentation=https://github.com/flexfs/flexfs/blob/main/docs/METADATA.md',
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${flags.binPath} ${args.map(quote).join(' ')}`,
    'Restart=always',
    'RestartSec=2',
    'LimitNOFILE=1048576',
    'KillSignal=SIGTERM',
    'TimeoutStopSec=20',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

async function initSystemd(flags: SystemdFlags): Promise<void> {
  const unit = systemdUnit(flags);
  if (!flags.now) { process.stdout.write(unit); return; }
  await mkdir(flags.unitDir, { recursive: true });
  const path = join(flags.unitDir, 'flexfs-meta.service');
  await writeFile(path, unit, { mode: 0o644 });
  process.stdout.write(`wrote ${path}\n`);
  const reloaded = await new Promise<boolean>((resolve) => {
    execFile('systemctl', ['daemon-reload'], (err) => resolve(!err));
  });
  process.stdout.write(reloaded ? 'systemd reloaded; enable with: systemctl enable --now flexfs-meta\n'
    : 'systemctl not available or failed; reload systemd yourself\n');
}
