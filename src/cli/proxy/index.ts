import { Command } from 'commander';
import { registerInitCreds } from './init-creds.js';
import { registerInitSystemd } from './init-systemd.js';
import { registerStart } from './start.js';
import { addVersion } from '../shared/version.js';

/** proxy.flexfs: the caching block proxy (docs/PROXY.md). */
export function proxyProgram(): Command {
  const program = new Command('proxy.flexfs').description('flexfs caching block proxy').showHelpAfterError()
    // A usage error is 2 (the four binaries' convention: 0 ok, 1 runtime failure, 2 usage);
    // set before the subcommands are added, so they inherit it.
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  addVersion(program);
  registerStart(program);
  const init = program.command('init').description('set up credentials or a systemd unit');
  registerInitCreds(init);
  registerInitSystemd(init);
  return program;
}

await proxyProgram().parseAsync(process.argv);
