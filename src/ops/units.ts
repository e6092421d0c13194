import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** The systemd units shipped in packaging/systemd (the one copy; `init systemd` prints these). */
export type PackagedUnit = 'flexfs-meta.service' | 'flexfs-proxy.service' | 'flexfs-mount@.service';

/**
 * Text of a packaged unit, read from the package at run time (works from the checkout, from
 * dist/, and from /opt/flexfs: the file sits at <package>/packaging/systemd/<name>).
 */
export async function packagedUnit(name: PackagedUnit): Promise<string> {
  // This file is src/ops/units.ts, compiled to dist/src/ops/units.js: try both depths.
  for (const rel of ['../../packaging/systemd/', '../../../packaging/systemd/']) {
    const text = await readFile(new URL(rel + name, import.meta.url), 'utf8').catch(() => undefined);
    if (text !== undefined) return text;
  }
  throw new Error(`systemd unit ${name} is missing from the package (packaging/systemd/${name})`);
}

/**
 * Contents of /etc/flexfs/meta.env or proxy.env carrying `start` flags for the packaged unit
 * (`init systemd` flags go here, so the unit file itself stays the packaged one). systemd splits
 * `$FLEXFS_*_ARGS` on whitespace, so an argument with whitespace or quotes is refused.
 */
export function unitEnvFile(daemon: 'meta' | 'proxy', args: string[]): string {
  for (const a of args) {
    if (/[\s"'\\$]/.test(a)) throw new Error(`argument ${JSON.stringify(a)} cannot go into a unit env file (whitespace, quotes, $ or \\)`);
  }
  return `FLEXFS_${daemon.toUpperCase()}_ARGS="${args.join(' ')}"\n`;
}

export interface UnitInstallOptions {
  unit: PackagedUnit;
  daemon: 'meta' | 'proxy';
  /** `start` flags (no secrets) for the unit's env file. */
  args: string[];
  /** Write the unit and env file and reload systemd; otherwise print both. */
  now?: boolean;
  unitDir?: string;
  envDir?: string;
}

/**
 * `init systemd` for meta.flexfs and proxy.flexfs: the packaged unit stays as shipped; the flags go
 * into /etc/flexfs/<daemon>.env. Without `now` both texts go to stdout (the env file as comments).
 */
export async function initSystemdUnit(o: UnitInstallOptions, out: (text: string) => void): Promise<void> {
  const unit = await packagedUnit(o.unit);
  const env = unitEnvFile(o.daemon, o.args);
  const unitDir = o.unitDir ?? '/etc/systemd/system';
  const envPath = join(o.envDir ?? '/etc/flexfs', `${o.daemon}.env`);
  if (!o.now) {
    out(unit);
    out(`\n# ${envPath}:\n# ${env}`);
    return;
  }
  await mkdir(unitDir, { recursive: true });
  await mkdir(dirname(envPath), { recursive: true });
  await writeFile(join(unitDir, o.unit), unit, { mode: 0o644 });
  await writeFile(envPath, env, { mode: 0o644 });
  out(`wrote ${join(unitDir, o.unit)} and ${envPath}\n`);
  const reloaded = await new Promise<boolean>((resolve) => execFile('systemctl', ['daemon-reload'], (err) => resolve(!err)));
  const name = o.unit.replace(/\.service$/, '');
  out(reloaded ? `systemd reloaded; enable with: systemctl enable --now ${name}\n` : 'systemctl not available or failed; run "systemctl daemon-reload" yourself\n');
}
