import { Command } from 'commander';
import { PROTOCOL_VERSION, SERVER_VERSION } from '../../meta/protocol/index.js';
import { addVersion } from '../shared/version.js';
import { registerStart } from './start.js';
import { registerInit } from './init.js';
import { registerVolume } from './volume.js';
import { registerQuota } from './quota.js';
import { registerToken } from './token.js';
import { registerGcCommands } from './gc.js';
import { registerFsckCommands } from './fsck.js';
import { registerDumpCommands } from './dump.js';

/** meta.flexfs: the metadata server daemon and its admin commands. */
const program = new Command('meta.flexfs')
  .description('flexfs metadata server')
  .showHelpAfterError()
  // A usage error is "could not run": 2, never gc's 1 (deletes failed) or fsck's 1 (damage).
  // Set before the subcommands are added, so they inherit it.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
addVersion(program, `server ${SERVER_VERSION}, protocol ${PROTOCOL_VERSION}`);
registerStart(program);
registerInit(program);
registerVolume(program);
registerQuota(program);
registerToken(program);
registerGcCommands(program);
registerFsckCommands(program);
registerDumpCommands(program);

await program.parseAsync(process.argv);
