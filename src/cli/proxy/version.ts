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

export function registerVersion(program: Command): void {
  program.command('version').description('print the version').action(() => {
    process.stdout.write(`proxy.flexfs ${flexfsVersion()} (node ${process.version})\n`);
  });
}
