import { join } from 'node:path';
import { openSqliteEngine } from '../../src/meta/engines/sqlite.js';
import { openSqliteWorkerEngine } from '../../src/meta/engines/sqlite-worker-client.js';
import { tempDir } from '../harness/ports.js';
import { engineOpenAt, runMetaStoreConformance } from './conformance.js';

runMetaStoreConformance('sqlite', async () => {
  const dir = await tempDir('flexfs-meta-sqlite-');
  const engine = await openSqliteEngine({ file: join(dir.path, 'meta.db') });
  const vol = await engine.createVolume({ name: 'conf', blockSize: 256 * 1024, blockStore: { url: 'file:///tmp/unused' } });
  return {
    store: engine.volume(vol.id),
    engine,
    openAt: engineOpenAt(engine, vol.id),
    cleanup: async () => { await engine.close(); await dir.cleanup(); },
  };
});

// The --local engine: the same SqliteEngine in a worker thread, every call a message (synchronous=FULL).
runMetaStoreConformance('sqlite in a worker thread', async () => {
  const dir = await tempDir('flexfs-meta-sqlite-worker-');
  const engine = await openSqliteWorkerEngine({ file: join(dir.path, 'meta.db'), sync: true });
  const vol = await engine.createVolume({ name: 'conf', blockSize: 256 * 1024, blockStore: { url: 'file:///tmp/unused' } });
  return {
    store: engine.volume(vol.id),
    engine,
    openAt: engineOpenAt(engine, vol.id),
    cleanup: async () => { await engine.close(); await dir.cleanup(); },
  };
});
