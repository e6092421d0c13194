import { mountFs, type FuseMountOptions } from '../src/fuse/index.js';
import { isFsError } from '../src/errors/index.js';
import { NullFs } from './nullfs.js';

/**
 * Child-process entry: mount the null filesystem at argv[2] with the flexfs FUSE options, serve
 * until SIGTERM/SIGINT, then unmount. Optional argv[3]: JSON of extra FuseMountOptions.
 *   node dist/bench/nullfs-main.js /mnt/null '{"readOnly":false}'
 */
async function main(): Promise<void> {
  const mountpoint = process.argv[2];
  if (!mountpoint) throw new Error('usage: nullfs-main <mountpoint> [options-json]');
  const extra = process.argv[3] ? (JSON.parse(process.argv[3]) as Partial<FuseMountOptions>) : {};
  const fs = new NullFs();
  const mount = await mountFs(fs, mountpoint, {
    fsname: 'nullfs',
    ...extra,
    onError: (op, path, err) => { if (!isFsError(err)) console.error(`nullfs: ${op} ${path}: ${String(err)}`); },
  });
  console.log(`nullfs mounted at ${mount.mountpoint}`);
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    try {
      await mount.unmount();
      await fs.destroy();
      process.exit(0);
    } catch (e) {
      console.error(`nullfs: unmount failed: ${String(e)}`);
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

main().catch((e) => {
  console.error(`nullfs: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
