/**
 * Per-volume counters an engine bumps when it changes a volume's settings or limits
 * (`updateVolume`), so its CoreMetaStores (core/store.ts) read them again: one session's store
 * lives as long as the mount's session, and a new capacity must not wait for a remount.
 */
export class VolumeInfoVersions {
  private readonly versions = new Map<string, number>();

  get(volumeId: string): number {
    return this.versions.get(volumeId) ?? 0;
  }

  bump(volumeId: string): void {
    this.versions.set(volumeId, this.get(volumeId) + 1);
  }
}
