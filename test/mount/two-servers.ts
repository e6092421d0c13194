import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { writeCreds } from '../../src/config/creds.js';
import { AdminClient } from '../../src/meta/client/index.js';
import type { StartedMount } from '../harness/mount.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import { sharedRgw, type Rgw } from '../harness/rgw.js';
import { ensureBuilt as ensureMetaBuilt, startDaemon, type Daemon } from '../meta-server/harness.js';
import { buildMountClient, mountRemote, workDir } from './helpers.js';

/**
 * The two ways two mounts of one volume meet in the multi-mount suites (coherence, locks,
 * quotas): both on one meta.flexfs (sqlite), or each on its own meta.flexfs, the two servers
 * sharing one redis-server (what one server changes, the other must tell its sessions).
 */
export const SERVER_SETUPS = ['one meta.flexfs', 'two meta.flexfs servers on one redis'] as const;
export type ServerSetup = (typeof SERVER_SETUPS)[number];

export interface VolumeServers {
  dir: { path: string; cleanup: () => Promise<void> };
  home: string;
  rgw: Rgw;
  redis?: RedisServer;
  /** The server of mount "a" (and the admin API). */
  meta: Daemon;
  /** The server of mount "b": `meta` itself on the one-server setup. */
  metaB: Daemon;
  admin: AdminClient;
  /** meta.flexfs's certificate, for clients. */
  caPath: string;
  /** The volume token's secret. */
  token: string;
  /** The creds file of mount `name` ("a" talks to `meta`, "b" to `metaB`). */
  credsFile(name: 'a' | 'b'): string;
  /** Mount the volume at <dir>/<name> through that mount's server; stopped by stop(). */
  mount(name: 'a' | 'b', extra?: string[]): Promise<StartedMount>;
  /** Unmount every mount, stop the servers, redis and RGW, remove the folder. */
  stop(): Promise<void>;
}

/** Servers, a volume (blocks in the shared RGW) and a token for it, per `setup`. */
export async function startVolumeServers(setup: ServerSetup, o: {
  prefix: string; adminToken: string; volume: string; blockSize?: number;
}): Promise<VolumeServers> {
  await buildMountClient();
  await ensureMetaBuilt();
  const dir = await workDir(`flexfs-${o.prefix}-`);
  const home = join(dir.path, 'home');
  const rgw = await sharedRgw();
  const caPath = join(home, 'meta', 'tls', 'cert.pem');
  await writeCreds(join(home, 'meta', 'creds'), { adminToken: o.adminToken, blockUser: rgw.accessKey, blockPass: rgw.secretKey });
  const serverArgs = ['--dbFolder', join(home, 'db'), '--sessionTtl', '120'];
  let redis: RedisServer | undefined;
  let meta: Daemon;
  let metaB: Daemon;
  if (setup === 'one meta.flexfs') {
    meta = metaB = await startDaemon({ home, args: serverArgs });
  } else {
    redis = await startRedis();
    meta = await startDaemon({ home, args: [...serverArgs, '--engine', redis.url] });
    metaB = await startDaemon({ home, args: [...serverArgs, '--engine', redis.url] });
  }
  const admin = new AdminClient(`127.0.0.1:${meta.port}`, o.adminToken, { ca: caPath });
  await admin.createVolume({
    name: o.volume,
    ...(o.blockSize ? { blockSize: o.blockSize } : {}),
    blockStore: { url: `s3://${rgw.bucket}/${o.prefix}-${randomBytes(4).toString('hex')}`, endpoint: rgw.endpoint, region: rgw.region, pathStyle: true },
  });
  const token = (await admin.createToken({ volume: o.volume, label: `${o.prefix} test` })).secret;
  const credsFile = (name: 'a' | 'b') => join(home, 'mount', 'creds', name);
  for (const [name, server] of [['a', meta], ['b', metaB]] as const) {
    await writeCreds(credsFile(name), { metaAddr: `127.0.0.1:${server.port}`, token, metaCA: caPath });
  }
  const mounts: StartedMount[] = [];
  return {
    dir, home, rgw, redis, meta, metaB, admin, caPath, token, credsFile,
    async mount(name, extra = []) {
      const m = await mountRemote(o.volume, join(dir.path, name), home, ['--credsFile', credsFile(name), ...extra]);
      mounts.push(m);
      return m;
    },
    async stop() {
      for (const m of mounts) await m.stop();
      if (metaB !== meta) await metaB.stop();
      await meta.stop();
      await redis?.stop();
      await rgw.stop();
      await dir.cleanup();
    },
  };
}
