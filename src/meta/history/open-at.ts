import type { MetaEngine } from '../engine.js';
import type { MetaStore, VolumeSettings } from '../types.js';
import { checkInWindow, historyWindow } from './window.js';

/** The volume as of `atMs` (read-only), or EINVAL naming the history window when it is outside it. */
export async function openVolumeAt(engine: MetaEngine, volume: VolumeSettings, atMs: number): Promise<MetaStore> {
  checkInWindow(atMs, historyWindow(await engine.historyStart(volume.id), volume.retentionSeconds), volume.name);
  return engine.volume(volume.id, atMs);
}
