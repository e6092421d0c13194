import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerStatus } from './status.js';
import { registerTools } from './tools.js';
import { registerRecover } from './recover.js';

/** flexfs: the operator CLI for jobs no daemon owns (status, recover; bench, warmup… may join). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const program = new Command('flexfs').description('flexfs operator CLI').version(version(), '-V, --version').showHelpAfterError()
  // A usage error (unknown option, missing argument) is "could not run": 2, never a status code
  // with a meaning of its own (status: 1 = nothing mounted there). Set before the subcommands
  // are added, so they inherit it.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
registerStatus(program);
registerTools(program);
registerRecover(program);
program.command('version').description('print the version').action(() => { process.stdout.write(`flexfs ${version()}\n`); });
await program.parseAsync(process.argv);
