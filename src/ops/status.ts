import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MetaEngine, SessionInfo } from '../meta/engine.js';
import type { StatFs, VolumeSettings } from '../meta/types.js';
import { mountRunDir, type MountStatus } from './mount-telemetry.js';

/** Status files of mounts on this host whose process is still alive (stale files are skipped). */
export async function liveMountStatuses(runDir = mountRunDir()): Promise<MountStatus[]> {
  const names = await readdir(runDir).catch(() => [] as string[]);
  const out: MountStatus[] = [];
  for (const n of names) {
    if (!/^\d+\.json$/.test(n)) continue;
    try {
      const s = JSON.parse(await readFile(join(runDir, n), 'utf8')) as MountStatus;
      if (alive(s.pid)) out.push(s);
    } catch { /* being replaced or not ours: skip */ }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Share of block reads served by a cache (memory or disk), or undefined before any read. */
export function hitRate(s: Pick<MountStatus, 'memHits' | 'diskHits' | 'blockGets'>): number | undefined {
  const reads = s.memHits + s.diskHits + s.blockGets;
  return reads === 0 ? undefined : (s.memHits + s.diskHits) / reads;
}

/**
 * Status of a volume. `source` says where it came from: the metadata engine itself (everything),
 * a meta.flexfs admin API (settings and sessions; no usage or gc queue there), or only the
 * status files of this host's mounts (a client host without access to the metadata).
 */
export interface VolumeStatus {
  source: 'engine' | 'meta server' | 'local mounts';
  name: string;
  id?: string;
  blockSize?: number;
  compression?: string;
  encrypted?: boolean;
  store?: string;
  retentionSeconds?: number;
  usage?: StatFs;
  sessions?: SessionInfo[];
  /** Blocks waiting for gc. */
  queuedBlocks?: number;
  /** Mounts of this volume on this host (from their status files). */
  localMounts: MountStatus[];
}

/** Live mounts on this host whose volume is `name` (or `id`). */
export async function localMountsOf(name: string, id?: string, runDir?: string): Promise<MountStatus[]> {
  return (await liveMountStatuses(runDir)).filter((m) => m.volume === name || (id !== undefined && m.volume === id));
}

/** The settings part of a status, from a volume's settings. */
export function settingsPart(v: VolumeSettings): Pick<VolumeStatus, 'name' | 'id' | 'blockSize' | 'compression' | 'encrypted' | 'store' | 'retentionSeconds'> {
  return {
    name: v.name, id: v.id, blockSize: v.blockSize, compression: v.compression, encrypted: !!v.encryption,
    store: v.blockStore.url, retentionSeconds: v.retentionSeconds,
  };
}

export async function volumeStatus(engine: MetaEngine, nameOrId: string, runDir?: string): Promise<VolumeStatus> {
  const v: VolumeSettings | null = await engine.getVolume(nameOrId);
  if (!v) throw new Error(`no volume "${nameOrId}"`);
  const usage = await engine.volume(v.id).statfs({ uid: 0, gid: 0 });
  const sessions = await engine.listSessions(v.id);
  const queuedBlocks = (await engine.gcQueue(v.id, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)).length;
  const localMounts = await localMountsOf(v.name, v.id, runDir);
  return { source: 'engine', ...settingsPart(v), usage, sessions, queuedBlocks, localMounts };
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let x = n;
  while (x >= 1024 && i < units.length - 1) { x /= 1024; i++; }
  return i === 0 ? `${n} B` : `${x.toFixed(1)} ${units[i]}`;
}

const pct = (r: number | undefined) => (r === undefined ? '-' : `${(r * 100).toFixed(1)}%`);

export function formatMountStatus(m: MountStatus, now = Date.now()): string {
  return [
    `mount ${m.mountpoint} (volume ${m.volume}, pid ${m.pid}, up ${Math.round((now - m.startedAt) / 1000)} s)`,
    `  dirty bytes:     ${formatBytes(m.dirtyBytes)}`,
    `  cache hit rate:  ${pct(hitRate(m))} (memory ${m.memHits}, disk ${m.diskHits}, fetched ${m.blockGets})`,
    `  blocks stored:   ${m.blockPuts}`,
    `  cache size:      memory ${formatBytes(m.memCacheBytes)}, disk ${formatBytes(m.diskCacheBytes)}`,
    ...(m.metricsAddr ? [`  metrics:         http://${m.metricsAddr}/metrics`] : []),
    `  as of:           ${Math.round((now - m.updatedAt) / 1000)} s ago`,
  ].join('\n') + '\n';
}

export function formatVolumeStatus(s: VolumeStatus, now = Date.now()): string {
  const lines: string[] = [];
  if (s.source === 'local mounts') {
    lines.push(`volume ${s.name}: no metadata access from this host (use --addr for the meta server); its mounts here:`);
  } else {
    lines.push(`volume ${s.name} (${s.id})${s.source === 'meta server' ? ' via the meta server' : ''}`,
      `  store:      ${s.store}, block size ${formatBytes(s.blockSize ?? 0)}, ${s.compression}${s.encrypted ? ', end-to-end encrypted' : ''}`);
    lines.push(s.usage
      ? `  usage:      ${formatBytes(s.usage.usedBytes)} in ${s.usage.inodes} inodes${s.usage.capacityBytes ? ` of ${formatBytes(s.usage.capacityBytes)}` : ''}`
      : '  usage:      - (not served by the admin API; run status on the metadata host)');
    lines.push(s.queuedBlocks !== undefined
      ? `  gc queue:   ${s.queuedBlocks} blocks (retention ${s.retentionSeconds} s)`
      : `  gc queue:   - (retention ${s.retentionSeconds} s)`);
    const sessions = s.sessions ?? [];
    lines.push(`  sessions:   ${sessions.length}`,
      ...sessions.map((x) => `    ${x.host} pid ${x.pid} ${x.mountpoint ?? '-'} (since ${new Date(x.startedAt).toISOString()}, expires in ${Math.round((x.expiresAt - now) / 1000)} s)`));
  }
  let out = lines.join('\n') + '\n';
  for (const m of s.localMounts) out += formatMountStatus(m, now);
  return out;
}
