import { Command } from 'commander';
import { registerInitCreds } from './init-creds.js';
import { registerInitSystemd } from './init-systemd.js';
import { registerStart } from './start.js';
import { registerVersion } from './version.js';

/** proxy.flexfs: the caching block proxy (docs/PROXY.md). */
export function proxyProgram(): Command {
  const program = new Command('proxy.flexfs').description('flexfs caching block proxy').showHelpAfterError();
  registerStart(program);
  const init = program.command('init').description('set up credentials or a systemd unit');
  registerInitCreds(init);
  registerInitSystemd(init);
  registerVersion(program);
  return program;
}

await proxyProgram().parseAsync(process.argv);
