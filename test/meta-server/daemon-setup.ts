import { join } from 'node:path';
import { writeCreds } from '../../src/config/creds.js';
import { AdminClient } from '../../src/meta/client/index.js';
import { tempDir } from '../harness/ports.js';
import { ensureBuilt, startDaemon, type Daemon } from './harness.js';

export const ADMIN_TOKEN = 'daemon-admin-token-0123456789abcdef';

export interface DaemonEnv {
  home: string;
  dbFolder: string;
  certPath: string;
  daemon: Daemon;
  admin: AdminClient;
  /** Start (again) on the same home, dbFolder and port. */
  restart(extraArgs?: string[]): Promise<Daemon>;
  cleanup(): Promise<void>;
}

/** Build if needed, write server creds, start meta.flexfs (child process) with TLS. */
export async function startDaemonEnv(args: string[] = [], extraCreds: Record<string, string> = {}): Promise<DaemonEnv> {
  await ensureBuilt();
  const dir = await tempDir('flexfs-metad-');
  const home = dir.path;
  const dbFolder = join(home, 'db');
  await writeCreds(join(home, 'meta', 'creds'), { adminToken: ADMIN_TOKEN, blockUser: 'AKIDDAEMON', blockPass: 'daemon-bucket-secret', ...extraCreds });
  const launch = (port?: number, extra: string[] = []) => startDaemon({ home, port, args: ['--dbFolder', dbFolder, ...args, ...extra] });
  let daemon = await launch();
  const certPath = join(home, 'meta', 'tls', 'cert.pem');
  const env: DaemonEnv = {
    home, dbFolder, certPath,
    get daemon() { return daemon; },
    admin: new AdminClient(`127.0.0.1:${daemon.port}`, ADMIN_TOKEN, { ca: certPath }),
    async restart(extra?: string[]) {
      daemon = await launch(daemon.port, extra);
      return daemon;
    },
    async cleanup() {
      await daemon.kill9().catch(() => undefined);
      await dir.cleanup();
    },
  };
  return env;
}
