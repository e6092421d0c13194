import { openRedisEngine } from '../../src/meta/engines/redis.js';
import { startRedis } from '../harness/redis.js';
import { engineOpenAt, runMetaStoreConformance } from './conformance.js';

runMetaStoreConformance('redis', async () => {
  const server = await startRedis();
  try {
    const engine = await openRedisEngine({ url: server.url });
    const vol = await engine.createVolume({ name: 'conf', blockSize: 256 * 1024, blockStore: { url: 'file:///tmp/unused' } });
    return {
      store: engine.volume(vol.id),
      engine,
      openAt: engineOpenAt(engine, vol.id),
      cleanup: async () => { await engine.close(); await server.stop(); },
    };
  } catch (e) {
    await server.stop();
    throw e;
  }
});
