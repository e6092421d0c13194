import { access } from 'node:fs/promises';
import { readCreds } from '../config/creds.js';
import type { VolumeSettings } from '../meta/types.js';
import { openStore, type OpenStoreOptions } from '../store/index.js';
import type { ObjectStore } from '../store/types.js';

/**
 * The block store of a volume as the metadata server sees it: the volume's settings plus the
 * server's bucket keys (blockUser/blockPass from its creds file, when that file has them), like
 * meta.flexfs hands them to mounts. Without keys the host's ambient AWS credential chain applies.
 */
export async function openVolumeStore(volume: VolumeSettings, credsFile?: string, opts: OpenStoreOptions = {}): Promise<ObjectStore> {
  let blockUser: string | undefined;
  let blockPass: string | undefined;
  if (credsFile && await access(credsFile).then(() => true, () => false)) {
    const creds = await readCreds(credsFile);
    if (typeof creds.blockUser === 'string' && creds.blockUser) blockUser = creds.blockUser;
    if (typeof creds.blockPass === 'string' && creds.blockPass) blockPass = creds.blockPass;
  }
  return openStore({ ...volume.blockStore, blockUser: blockUser ?? volume.blockStore.blockUser, blockPass: blockPass ?? volume.blockStore.blockPass }, opts);
}
