import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { RECOVERY_DEFAULTS } from '../config/defaults.js';

/**
 * A volume's recovery folder: DIR/recovery/<volume> with --diskFolder DIR, else
 * $FLEXFS_HOME/mount/recovery/<volume> when FLEXFS_HOME is set, else /var/lib/flexfs/recovery/<volume>
 * for root and ~/.flexfs/mount/recovery/<volume> for others.
 */
export function recoveryFolderFor(volume: string, diskFolder?: string): string {
  if (diskFolder) return join(resolve(diskFolder), RECOVERY_DEFAULTS.diskFolderSubdir, volume);
  if (process.env.FLEXFS_HOME) return join(process.env.FLEXFS_HOME, RECOVERY_DEFAULTS.homeSubdir, volume);
  if (process.getuid?.() === 0) return join(RECOVERY_DEFAULTS.rootDir, volume);
  return join(homedir(), '.flexfs', RECOVERY_DEFAULTS.homeSubdir, volume);
}

/** The command that applies `folder` without mounting (the next mount does it too). */
export function recoverCommand(volume: string, folder: string): string {
  return `flexfs recover --volume ${volume} ${folder}`;
}
