import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { join } from 'node:path';
import { openRedisEngine } from '../../src/meta/engines/redis.js';
import { openSqliteEngine } from '../../src/meta/engines/sqlite.js';
import { openSqliteWorkerEngine } from '../../src/meta/engines/sqlite-worker-client.js';
import { openEngine } from '../../src/meta/engines/index.js';
import { decodeInode, encodeInode } from '../../src/meta/core/rules.js';
import { tempDir } from '../harness/ports.js';
import { startRedis } from '../harness/redis.js';
import { runEngineSuite } from './engine-suite.js';
import { describe, expect, it } from 'vitest';

for (const [label, open] of [
  ['sqlite', openSqliteEngine],
  ['sqlite in a worker thread (--local)', openSqliteWorkerEngine],
] as const) runEngineSuite(label, async () => {
  const dir = await tempDir('flexfs-engine-sqlite-');
  const file = join(dir.path, 'meta.db');
  const engine = await open({ file, sync: true });
  return {
    engine,
    dropInodeRecord: async (vol, ino) => {
      const raw = new Database(file);
      try { raw.prepare('DELETE FROM inodes WHERE vol = ? AND ino = ?').run(vol, ino); } finally { raw.close(); }
    },
    setNlink: async (vol, ino, nlink) => {
      const raw = new Database(file);
      try { raw.prepare('UPDATE inodes SET nlink = ? WHERE vol = ? AND ino = ?').run(nlink, vol, ino); } finally { raw.close(); }
    },
    cleanup: async () => { await engine.close(); await dir.cleanup(); },
  };
});

runEngineSuite('redis', async () => {
  const server = await startRedis();
  const engine = await openRedisEngine({ url: server.url }).catch(async (e) => { await server.stop(); throw e; });
  return {
    engine,
    dropInodeRecord: async (vol, ino) => {
      const raw = new Redis(server.url);
      try { await raw.del(`{v:${vol}}:i:${ino}`); } finally { raw.disconnect(); }
    },
    setNlink: async (vol, ino, nlink) => {
      const raw = new Redis(server.url);
      try {
        const key = `{v:${vol}}:i:${ino}`;
        const rec = decodeInode((await raw.get(key))!);
        await raw.set(key, encodeInode({ ...rec, nlink }));
      } finally { raw.disconnect(); }
    },
    cleanup: async () => { await engine.close(); await server.stop(); },
  };
});

describe('openEngine', () => {
  it('opens sqlite in a folder and refuses unknown engines without leaking passwords', async () => {
    const dir = await tempDir();
    try {
      const e = await openEngine({ engine: 'sqlite', dbFolder: dir.path });
      expect(e.kind).toBe('sqlite');
      await e.createVolume({ name: 'x', blockStore: { url: 'file:///tmp/x' } });
      await e.close();
      const again = await openEngine({ engine: 'sqlite', dbFolder: dir.path });
      expect((await again.listVolumes()).map((v) => v.name)).toEqual(['x']);
      await again.close();
      await expect(openEngine({ engine: 'mongo://u:hunter2@h' })).rejects.toThrow(/unknown metadata engine/);
      await expect(openEngine({ engine: 'mongo://u:hunter2@h' })).rejects.not.toThrow(/hunter2/);
      await expect(openRedisEngine({ url: 'redis://:hunter2@127.0.0.1:1' })).rejects.toThrow(/cannot reach redis/);
      await expect(openRedisEngine({ url: 'redis://:hunter2@127.0.0.1:1' })).rejects.not.toThrow(/hunter2/);
    } finally { await dir.cleanup(); }
  });

  it('says plainly that TLS to Sentinel or a cluster is not supported yet, and how to spell their URLs (redis+sentinel://: redis-sentinel.test.ts)', async () => {
    await expect(openEngine({ engine: 'rediss+sentinel://h:26379/m' })).rejects.toThrow(/TLS to Redis Sentinel.*not supported yet.*redis\+sentinel:\/\//);
    await expect(openEngine({ engine: 'redis-sentinel://h:26379' })).rejects.toThrow(/as redis\+sentinel:\/\/host:port.*\/mastername/);
    await expect(openEngine({ engine: 'redis+sentinel://10.0.0.1:26379' })).rejects.toThrow(/no master name/);
    await expect(openEngine({ engine: 'rediss+cluster://10.0.0.1:7000' })).rejects.toThrow(/TLS to a Redis Cluster \(rediss\+cluster:\/\/\) is not supported yet/);
    await expect(openEngine({ engine: 'redis-cluster://10.0.0.1:7000' })).rejects.toThrow(/as redis\+cluster:\/\/host:port/);
  });
});

describe('sqlite durability', () => {
  it('sync: true commits with synchronous=FULL (power-loss safe), as --local mounts open it', async () => {
    const { localEngineSpec } = await import('../../src/mount/index.js');
    const dir = await tempDir('flexfs-engine-sync-');
    try {
      const local = await openEngine(localEngineSpec(dir.path));
      expect((local as unknown as { durability: string }).durability).toBe('power-loss');
      await local.close();
      const plain = await openSqliteEngine({ file: join(dir.path, 'other.db') });
      expect(plain.durability).toBe('process-crash');
      await plain.close();
    } finally { await dir.cleanup(); }
  });
});
