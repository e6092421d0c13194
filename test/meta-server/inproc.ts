import { join } from 'node:path';
import { openSqliteEngine } from '../../src/meta/engines/sqlite.js';
import type { MetaEngine } from '../../src/meta/engine.js';
import { loadTls, startMetaServer, type MetaServer } from '../../src/meta/server/index.js';
import { tempDir } from '../harness/ports.js';

export interface InProc {
  engine: MetaEngine;
  server: MetaServer;
  dir: string;
  certPath: string;
  adminToken: string;
  volumeToken: string;
  volumeTokenId: string;
  /** Restart the listener on the same port and engine (clients reconnect). */
  restart(): Promise<void>;
  cleanup(): Promise<void>;
}

/** A real meta server in this process (sqlite engine, TLS self-signed) with one volume "vol1". */
export async function startInProcess(opts: { ttlSeconds?: number; noSSL?: boolean } = {}): Promise<InProc> {
  const dir = await tempDir('flexfs-metasrv-');
  const engine = await openSqliteEngine({ file: join(dir.path, 'meta.db') });
  const tls = opts.noSSL ? null : await loadTls({ dir: join(dir.path, 'tls') });
  const adminToken = 'admin-token-for-tests-0123456789';
  await engine.createVolume({ name: 'vol1', blockStore: { url: `file://${dir.path}/blocks`, credentials: 'static' } });
  const tok = await engine.createToken({ volume: (await engine.getVolume('vol1'))!.id, label: 'test' });
  const start = (port: number) => startMetaServer({
    engine, bindAddr: `127.0.0.1:${port}`, tls, adminToken, blockUser: 'AKIDTEST', blockPass: 'bucket-secret',
    sessionTtlSeconds: opts.ttlSeconds ?? 30,
  });
  let server = await start(0);
  const port = server.port;
  const ctx: InProc = {
    engine, dir: dir.path, certPath: join(dir.path, 'tls', 'cert.pem'), adminToken,
    volumeToken: tok.secret, volumeTokenId: tok.id,
    get server() { return server; },
    async restart() {
      await server.close();
      server = await start(port);
    },
    async cleanup() {
      await server.close().catch(() => undefined);
      await engine.close().catch(() => undefined);
      await dir.cleanup();
    },
  };
  return ctx;
}
