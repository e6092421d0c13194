import { AdminError, type AdminClient } from '../meta/client/admin.js';
import { localMountsOf, settingsPart, type VolumeStatus } from './status.js';

/**
 * Status of a volume from a meta.flexfs admin API (`flexfs status <volume> --addr …`), for hosts
 * that cannot open the metadata engine: settings and sessions from the server, plus this host's
 * mounts of it. The admin API serves no usage and no gc queue, so those stay unset.
 */
export async function volumeStatusViaAdmin(admin: AdminClient, nameOrId: string, runDir?: string): Promise<VolumeStatus> {
  const v = await admin.getVolume(nameOrId).catch((e: unknown) => {
    if (e instanceof AdminError && e.status === 404) throw new Error(`no volume "${nameOrId}" on the meta server`);
    if (e instanceof AdminError && e.status === 401) throw new Error('the meta server refused the admin token (adminToken in --credsFile)');
    throw e;
  });
  const sessions = await admin.listSessions(v.id);
  return { source: 'meta server', ...settingsPart(v), sessions, localMounts: await localMountsOf(v.name, v.id, runDir) };
}
