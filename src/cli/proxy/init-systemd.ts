import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { addStartOptions, type StartFlags } from './options.js';

/** `init systemd`: writes a unit running `proxy.flexfs start` with the given (non-secret) flags. */
export function registerInitSystemd(init: Command): void {
  addStartOptions(init.command('systemd').description('write a systemd unit that runs "proxy.flexfs start" with these flags'))
    .option('--unitFile <file>', 'where to write the unit', '/etc/systemd/system/proxy.flexfs.service')
    .option('--print', 'print the unit instead of writing it')
    .action(async (flags: StartFlags & { unitFile: string; print?: boolean }) => {
      const unit = systemdUnit(flags);
      if (flags.print) {
        process.stdout.write(unit);
        return;
      }
      try {
        await writeFile(flags.unitFile, unit, { mode: 0o644 });
        process.stdout.write(`wrote ${flags.unitFile}; run: systemctl daemon-reload && systemctl enable --now proxy.flexfs\n`);
      } catch (e) {
        process.stderr.write(`proxy.flexfs: cannot write ${flags.unitFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
        process.exit(1);
      }
    });
}

export function systemdUnit(flags: StartFlags): string {
  const args: string[] = ['start', '--store', flags.store, '--bindAddr', flags.bindAddr, '--diskFolder', resolve(flags.diskFolder),
    '--diskQuota', flags.diskQuota, '--credsFile', resolve(flags.credsFile)];
  if (flags.endpoint) args.push('--endpoint', flags.endpoint);
  if (flags.region) args.push('--region', flags.region);
  if (flags.pathStyle) args.push('--pathStyle');
  if (flags.keyPrefix) args.push('--keyPrefix', flags.keyPrefix);
  if (flags.sse) args.push('--sse');
  if (flags.noSSL) args.push('--noSSL');
  if (flags.sslCert) args.push('--sslCert', resolve(flags.sslCert));
  if (flags.sslKey) args.push('--sslKey', resolve(flags.sslKey));
  if (flags.verbose) args.push('--verbose');
  const bin = resolve(process.argv[1] ?? 'proxy.flexfs');
  return `[Unit]
Description=flexfs caching block proxy
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
ExecStart=${[process.execPath, bin, ...args].map(quote).join(' ')}
Restart=on-failure
RestartSec=2
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`;
}

/** systemd command-line quoting: plain words as they are, others double-quoted. */
function quote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `"${s.replace(/(["\\])/g, '\\$1')}"`;
}
