import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerStatus } from './status.js';

/** flexfs: the operator CLI for jobs no daemon owns (status; bench, warmup… may join). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const program = new Command('flexfs').description('flexfs operator CLI').version(version(), '-V, --version').showHelpAfterError();
registerStatus(program);
program.command('version').description('print the version').action(() => { process.stdout.write(`flexfs ${version()}\n`); });
await program.parseAsync(process.argv);
