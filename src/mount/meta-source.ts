import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { createEncryption } from '../codec/index.js';
import type { MetaSource, MetaSourceConfig, MountLog } from './config.js';

/**
 * The embedded engine: sqlite on DIR/meta.db with synchronous=FULL, so the commit an fsync waits
 * for survives a power loss, not only a crash of the mount. It runs in a worker thread with group
 * commit, so those fsyncs never hold the event loop (docs/METADATA.md).
 */
export function localEngineSpec(dir: string): { engine: 'sqlite'; dbFolder: string; sync: true; worker: true } {
  return { engine: 'sqlite', dbFolder: dir, sync: true, worker: true };
}

/** Open the volume's metadata where `config` says. */
export async function openMetaSource(config: MetaSourceConfig, volume: string, mountpoint: string | undefined,
  secret: string | undefined, log: MountLog): Promise<MetaSource> {
  switch (config.kind) {
    case 'local':
      if (config.atTime !== undefined) return openLocalAt(volume, resolve(config.dir), config.atTime);
      return openLocal(volume, resolve(config.dir), mountpoint ?? '', secret, log);
    case 'remote': return openRemote(volume, config, mountpoint, log);
    case 'given': return config.source;
  }
}

/** Embedded default: sqlite engine (worker thread) on DIR/meta.db, blocks in DIR/blocks. */
async function openLocal(volume: string, dir: string, mountpoint: string, secret: string | undefined, log: MountLog): Promise<MetaSource> {
  const { openEngine } = await import('../meta/engines/index.js');
  await mkdir(join(dir, 'blocks'), { recursive: true, mode: 0o700 });
  const engine = await openEngine({
    ...localEngineSpec(dir),
    // Every metadata call fails with EIO from here on; the mount stays up so it can be unmounted.
    onWorkerCrash: (e) => log.error(`the metadata engine's worker thread died: ${e.message}; metadata operations fail with EIO until remount`, { dir }),
  });
  try {
    let settings = await engine.getVolume(volume);
    if (!settings) {
      const encryption = secret ? (await createEncryption(secret)).params : undefined;
      settings = await engine.createVolume({ name: volume, blockStore: { url: `file://${resolve(dir, 'blocks')}` }, encryption });
      log.info(`created volume ${volume} in ${dir}${encryption ? ' (end-to-end encrypted)' : ''}`, { volume, dir });
    }
    // Sessions of crashed local mounts expire (their holds on unlinked files are released) once
    // they stop heartbeating; a local mount is the only one that can collect them.
    const ttl = 600;
    await engine.expireSessions().catch(() => 0);
    const sessionId = await engine.openSession(settings.id, { host: hostname(), pid: process.pid, mountpoint }, ttl);
    const beat = setInterval(() => { engine.heartbeat(sessionId, ttl).then(() => engine.expireSessions()).catch(() => undefined); }, 60_000);
    beat.unref();
    return {
      meta: engine.volume(settings.id), settings, sessionId,
      async close() {
        clearInterval(beat);
        await engine.closeSession(sessionId).catch(() => undefined);
        await engine.close();
      },
    };
  } catch (e) {
    await engine.close().catch(() => undefined);
    throw e;
  }
}

/**
 * The embedded volume as of `atTime`, read-only: no volume is created and no session kept (an
 * as-of view holds nothing and changes nothing, so it leaves other sessions alone too).
 */
async function openLocalAt(volume: string, dir: string, atTime: number): Promise<MetaSource> {
  const { openEngine } = await import('../meta/engines/index.js');
  const { openVolumeAt } = await import('../meta/history/open-at.js');
  const engine = await openEngine(localEngineSpec(dir));
  try {
    const settings = await engine.getVolume(volume);
    if (!settings) throw new Error(`no volume "${volume}" in ${dir}: an --atTime mount shows an existing volume's past`);
    return { meta: await openVolumeAt(engine, settings, atTime), settings, close: () => engine.close() };
  } catch (e) {
    await engine.close().catch(() => undefined);
    throw e;
  }
}

async function openRemote(volume: string, config: Extract<MetaSourceConfig, { kind: 'remote' }>, mountpoint: string | undefined,
  log: MountLog): Promise<MetaSource> {
  const { connectMeta } = await import('../meta/client/index.js');
  // watch: the mount's caches hear what other mounts change (coherent caching).
  const session = await connectMeta({
    addr: config.addr, token: config.token, volume, tls: config.tls, mountpoint, watch: config.atTime === undefined,
    atTime: config.atTime,
    onConnection: (e) => {
      if (e.state === 'lost') log.warn(`metadata connection to ${config.addr} lost (${e.why}); calls wait for the reconnect`, { metaAddr: config.addr });
      else log.info(`metadata connection to ${config.addr} back after ${Math.round(e.after / 1000)} s (${e.resumed ? 'same session' : 'new session: open files taken again'})`, { metaAddr: config.addr });
    },
  });
  if (session.readOnly) log.info(`the token for ${volume} is read-only: mounting read-only`);
  if (session.subdir) log.info(`the token for ${volume} shows only ${session.subdir}`);
  return {
    meta: session.store, settings: session.settings, readOnly: session.readOnly,
    get sessionId() { return session.sessionId; }, close: () => session.close(),
  };
}
