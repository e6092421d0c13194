import { join } from 'node:path';
import { openSqliteEngine } from '../../src/meta/engines/sqlite.js';
import { connectMeta } from '../../src/meta/client/index.js';
import { runMetaStoreConformance } from '../meta/conformance.js';
import { startDaemonEnv } from './daemon-setup.js';

// The whole MetaStore conformance suite through RemoteMetaStore against a live meta.flexfs child
// process. A second sqlite connection on the daemon's database serves the suite's gc-queue and
// namespace checks, so those see what the server wrote.
runMetaStoreConformance('remote (meta.flexfs child process, sqlite)', async () => {
  const env = await startDaemonEnv();
  try {
    await env.admin.createVolume({ name: 'conf', blockSize: 256 * 1024, blockStore: { url: 'file:///tmp/unused' } });
    const { secret } = await env.admin.createToken({ volume: 'conf' });
    const session = await connectMeta({ addr: `127.0.0.1:${env.daemon.port}`, token: secret, tls: { ca: env.certPath }, callTimeoutMs: 30_000 });
    const engine = await openSqliteEngine({ file: join(env.dbFolder, 'meta.db') });
    const addr = `127.0.0.1:${env.daemon.port}`;
    return {
      store: session.store,
      engine,
      // a meta.flexfs session whose hello carries atTime (the --atTime mount's path)
      openAt: async (atMs: number) => {
        const past = await connectMeta({ addr, token: secret, tls: { ca: env.certPath }, callTimeoutMs: 30_000, atTime: atMs });
        return { store: past.store, close: () => past.close() };
      },
      cleanup: async () => {
        await session.close();
        await engine.close();
        await env.daemon.stop();
        await env.cleanup();
      },
    };
  } catch (e) {
    await env.cleanup();
    throw e;
  }
});
