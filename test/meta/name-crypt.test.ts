import { join } from 'node:path';
import { createEncryption } from '../../src/codec/index.js';
import { openSqliteEngine } from '../../src/meta/engines/sqlite.js';
import { withNameEncryption } from '../../src/meta/name-crypt.js';
import { tempDir } from '../harness/ports.js';
import { engineOpenAt, runMetaStoreConformance } from './conformance.js';

/**
 * The name-encryption decorator is a MetaStore too: the whole conformance suite through it, on a
 * new E2E volume of the sqlite engine (which then only accepts sealed names).
 */
runMetaStoreConformance('sqlite + name encryption (src/meta/name-crypt.ts)', async () => {
  const dir = await tempDir('flexfs-meta-names-');
  const engine = await openSqliteEngine({ file: join(dir.path, 'meta.db') });
  const { params, dataKey } = await createEncryption('conformance passphrase', { N: 1024, r: 8, p: 1 });
  const vol = await engine.createVolume({ name: 'conf', blockSize: 256 * 1024, blockStore: { url: 'file:///tmp/unused' }, encryption: params });
  if (vol.nameEncryption !== 1) throw new Error('a new E2E volume must carry nameEncryption: 1');
  return {
    store: await withNameEncryption(engine.volume(vol.id), vol, dataKey),
    engine,
    openAt: engineOpenAt(engine, vol.id, (st) => withNameEncryption(st, vol, dataKey)),
    readdirOrder: 'stored',
    cleanup: async () => { await engine.close(); await dir.cleanup(); },
  };
});
