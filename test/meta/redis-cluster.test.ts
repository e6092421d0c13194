import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFsError } from '../../src/errors/index.js';
import { decodeInode, encodeInode } from '../../src/meta/core/rules.js';
import { openEngine } from '../../src/meta/engines/index.js';
import { openRedisEngine, type RedisEngine } from '../../src/meta/engines/redis.js';
import { parseClusterUrl } from '../../src/meta/engines/redis-connect.js';
import { ADMIN, volumeKeys } from '../../src/meta/engines/redis-keys.js';
import { ROOT_INO, type OpContext } from '../../src/meta/types.js';
import { freePort } from '../harness/ports.js';
import { startRedisCluster, type RedisCluster } from '../harness/redis-cluster.js';
import { engineOpenAt, runMetaStoreConformance } from './conformance.js';
import { runEngineSuite } from './engine-suite.js';

/**
 * The redis engine on a real Redis Cluster (three primaries, test/harness/redis-cluster.ts): the
 * MetaStore conformance and MetaEngine suites, then volumes spread over different nodes. One
 * cluster serves the whole file; each suite empties it when done.
 */

const USER: OpContext = { uid: 1000, gid: 1000 };
const store = { url: 'file:///tmp/flexfs-unused' };

let started: Promise<RedisCluster> | undefined;
const cluster = (): Promise<RedisCluster> => (started ??= startRedisCluster());
afterAll(async () => { await (await started?.catch(() => undefined))?.stop(); });

/** Every key on one node matching `pattern` (a plain client: that node's keys only). */
async function keysOn(c: RedisCluster, port: number, pattern: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await c.node(port).scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out;
}

async function flushAll(c: RedisCluster): Promise<void> {
  for (const port of c.ports) await c.node(port).flushall();
}

async function open(c: RedisCluster): Promise<RedisEngine> {
  return openRedisEngine({ url: c.url, password: c.password });
}

async function errno(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (e) { return isFsError(e) ? e.code : `non-FsError: ${String(e)}`; }
  return 'ok';
}

runMetaStoreConformance('redis cluster', async () => {
  const c = await cluster();
  const engine = await open(c);
  const vol = await engine.createVolume({ name: 'conf', blockSize: 256 * 1024, blockStore: { url: 'file:///tmp/unused' } });
  return {
    store: engine.volume(vol.id),
    engine,
    openAt: engineOpenAt(engine, vol.id),
    cleanup: async () => { await engine.close(); await flushAll(c); },
  };
});

runEngineSuite('redis cluster', async () => {
  const c = await cluster();
  const engine = await open(c);
  const raw = new Cluster([{ host: '127.0.0.1', port: c.ports[0] }], { redisOptions: { password: c.password } });
  raw.on('error', () => undefined);
  return {
    engine,
    dropInodeRecord: async (vol, ino) => { await raw.del(volumeKeys(vol).inode(ino)); },
    setNlink: async (vol, ino, nlink) => {
      const key = volumeKeys(vol).inode(ino);
      const rec = decodeInode((await raw.get(key))!);
      await raw.set(key, encodeInode({ ...rec, nlink }));
    },
    cleanup: async () => { raw.disconnect(); await engine.close(); await flushAll(c); },
  };
});

describe('redis engine on a cluster: volumes on different nodes', () => {
  let c: RedisCluster;
  let engine: RedisEngine;
  beforeAll(async () => { c = await cluster(); engine = await open(c); });
  afterAll(async () => { await engine?.close(); if (c) await flushAll(c); });

  it('keeps each volume on the node owning its slot; namespace, fsck, gc refs and delete reach every node', async () => {
    const owners = new Map<string, number>();
    for (let i = 0; i < 24 && new Set(owners.values()).size < 2; i++) {
      const v = await engine.createVolume({ name: `spread-${i}`, blockSize: 256 * 1024, blockStore: store });
      owners.set(v.id, await c.ownerOf(volumeKeys(v.id).counters));
    }
    expect(new Set(owners.values()).size).toBeGreaterThanOrEqual(2);
    const adminOwner = await c.ownerOf(ADMIN.volumes);
    expect(await c.node(adminOwner).hlen(ADMIN.volumes)).toBe(owners.size);

    for (const [id, owner] of owners) {
      // the volume's keys are all on its owner, none elsewhere
      const keys = await keysOn(c, owner, `${volumeKeys(id).tag}:*`);
      expect(keys).toEqual(expect.arrayContaining([volumeKeys(id).inode(ROOT_INO), volumeKeys(id).counters]));
      for (const port of c.ports.filter((p) => p !== owner)) expect(await keysOn(c, port, `${volumeKeys(id).tag}:*`)).toEqual([]);

      const m = engine.volume(id);
      const sid = await engine.openSession(id, { host: 'h', pid: 1 }, 30);
      const d = await m.mkdir(ROOT_INO, 'd', 0o755, USER);
      const f = await m.create(d.ino, 'f', 0o644, { ...USER, sessionId: sid }, true);
      const b = await m.allocIds(2, USER);
      await m.commit({ ino: f.ino, size: 300_000, mtime: 1n, writes: [{ index: 0, blockId: b, length: 262144 }, { index: 1, blockId: b + 1, length: 37856 }] }, USER);
      await m.setxattr(f.ino, 'user.k', Buffer.from('v'), 0, USER);
      await m.rename(d.ino, 'f', ROOT_INO, 'g', USER);
      expect((await m.lookup(ROOT_INO, 'g', USER)).ino).toBe(f.ino);
      expect(await engine.heartbeat(sid, 30)).toBe(true);
      const t = await engine.createToken({ volume: id });
      expect((await engine.checkToken(t.secret))?.volumeId).toBe(id);
      expect(await engine.checkNamespace(id)).toEqual([]);
      const refs: number[] = [];
      for await (const r of engine.referencedBlocks(id)) refs.push(r.blockId);
      expect(refs.sort((x, y) => x - y)).toEqual([b, b + 1]);
    }

    // volumes stay apart even where they share a node
    const [a, b] = [...owners.keys()];
    expect(await errno(engine.volume(b).lookup(ROOT_INO, 'g', USER))).toBe('ok');
    await engine.volume(a).unlink(ROOT_INO, 'g', USER);
    expect(await errno(engine.volume(a).lookup(ROOT_INO, 'g', USER))).toBe('ENOENT');
    expect(await errno(engine.volume(b).lookup(ROOT_INO, 'g', USER))).toBe('ok');

    // damage behind the engine's back on each volume's own node is found there
    for (const [id, owner] of owners) {
      const d = await engine.volume(id).lookup(ROOT_INO, 'd', USER);
      await c.node(owner).del(volumeKeys(id).inode(d.ino));
      expect((await engine.checkNamespace(id)).some((p) => p.includes('dangling entry "d"'))).toBe(true);
    }

    for (const [id] of owners) await engine.deleteVolume(id, true);
    for (const port of c.ports) expect(await keysOn(c, port, '{v:*')).toEqual([]);
    expect(await c.node(adminOwner).hlen(ADMIN.volumes)).toBe(0);
    expect(await c.node(adminOwner).hlen(ADMIN.tokens)).toBe(0);
    expect(await c.node(adminOwner).hlen(ADMIN.sessions)).toBe(0);
  });
});

describe('redis+cluster:// URLs and passwords', () => {
  it('parses seed lists and refuses passwords, databases and junk without echoing a password', () => {
    expect(parseClusterUrl('redis+cluster://10.0.0.1:7000,h2:7001,[::1]:7002,h4')).toEqual([
      { host: '10.0.0.1', port: 7000 }, { host: 'h2', port: 7001 }, { host: '::1', port: 7002 }, { host: 'h4', port: 6379 }]);
    expect(parseClusterUrl('REDIS+CLUSTER://h:1/')).toEqual([{ host: 'h', port: 1 }]);
    expect(() => parseClusterUrl('redis+cluster://:hunter2@h:1')).toThrow(/no user or password.*redisPassword/);
    expect(() => parseClusterUrl('redis+cluster://h:1,u:hunter2@h2:2')).not.toThrow(/hunter2/);
    expect(() => parseClusterUrl('redis+cluster://h:1,u:hunter2@h2:2')).toThrow(/no user or password/);
    expect(() => parseClusterUrl('redis+cluster://h:1/2')).toThrow(/database 0/);
    for (const bad of ['redis+cluster://', 'redis+cluster://h:0', 'redis+cluster://h:70000', 'redis+cluster://h:1,,h:2', 'redis+cluster://h x:1']) {
      expect(() => parseClusterUrl(bad), bad).toThrow(/cluster/);
    }
  });

  it('opens through openEngine with the password given separately; a wrong or missing one fails without leaking it', async () => {
    const c = await cluster();
    const e = await openEngine({ engine: c.url, redisPassword: c.password });
    try {
      expect(e.kind).toBe('redis');
      await e.createVolume({ name: 'via-open-engine', blockStore: store });
      expect((await e.listVolumes()).map((v) => v.name)).toContain('via-open-engine');
      await e.deleteVolume('via-open-engine');
    } finally { await e.close(); }
    const wrong = 'not-the-password-hunter2';
    const err = await openEngine({ engine: c.url, redisPassword: wrong }).then(() => undefined, (x: Error) => x);
    expect(err?.message).toMatch(/cannot reach redis cluster at redis\+cluster:\/\/127\.0\.0\.1:/);
    expect(err?.message).not.toContain(wrong);
    expect(err?.message).not.toContain(c.password);
    await expect(openEngine({ engine: c.url })).rejects.toThrow(/cannot reach redis cluster/);
    await expect(openEngine({ engine: `redis+cluster://:${c.password}@127.0.0.1:${c.ports[0]}` })).rejects.toThrow(/no user or password/);
    await expect(openEngine({ engine: `redis+cluster://:${c.password}@127.0.0.1:${c.ports[0]}` })).rejects.not.toThrow(c.password);
  });

  it('fails plainly when no seed answers', async () => {
    const port = await freePort();
    await expect(openEngine({ engine: `redis+cluster://127.0.0.1:${port}` })).rejects.toThrow(/cannot reach redis cluster/);
  });
});
