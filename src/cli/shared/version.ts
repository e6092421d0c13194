import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';

/** flexfs version from the nearest package.json named flexfs (works from src/ and from dist/src/). */
export function flexfsVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'flexfs' && pkg.version) return pkg.version;
    } catch {
      // not here; look one folder up
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

/**
 * `--version`, `-V` and a `version` subcommand, the same on the four binaries: one line
 * `<binary> <version> (<detail>, node <v>)`. Call before the subcommands are added.
 */
export function addVersion(program: Command, detail?: string): Command {
  const line = `${program.name()} ${flexfsVersion()} (${detail ? `${detail}, ` : ''}node ${process.version})`;
  program.version(line, '-V, --version', 'print the version');
  program.command('version').description('print the version').action(() => { process.stdout.write(`${line}\n`); });
  return program;
}
