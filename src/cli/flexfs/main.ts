import { Command } from 'commander';
import { addVersion } from '../shared/version.js';
import { registerStatus } from './status.js';
import { registerTools } from './tools.js';
import { registerRecover } from './recover.js';

/** flexfs: the operator CLI for jobs no daemon owns (status, info, warmup, stats, recover). */

const program = new Command('flexfs').description('flexfs operator CLI').showHelpAfterError()
  // A usage error (unknown option, missing argument) is "could not run": 2, never a status code
  // with a meaning of its own (status: 1 = nothing mounted there). Set before the subcommands
  // are added, so they inherit it.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
addVersion(program);
registerStatus(program);
registerTools(program);
registerRecover(program);
await program.parseAsync(process.argv);
