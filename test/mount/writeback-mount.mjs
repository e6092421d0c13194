// Test helper (writeback.test.ts): a --local flexfs mount with the kernel's writeback cache on,
// which the CLI has no flag for: argv[2] the local folder, argv[3] the mountpoint. Prints the
// negotiated connection info, serves until SIGTERM/SIGINT, then unmounts and flushes.
import { mkdir } from 'node:fs/promises';
import { openMountStack } from '../../dist/src/mount/index.js';
import { mountCore } from '../../dist/src/fuse/kernel-mount.js';

const [local, mountpoint] = process.argv.slice(2);
await mkdir(local, { recursive: true });
const stack = await openMountStack({ volume: 'vol', mountpoint, meta: { kind: 'local', dir: local } });
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await mount.unmount().catch((e) => console.error(`unmount: ${e.message}`));
  await stack.close();
  process.exit(0);
};
const mount = await mountCore(stack.core, mountpoint, {
  fsname: 'vol', writebackCache: true, allowOther: true,
  onError: (op, what, err) => { if (err?.code !== 'ENOENT' && err?.code !== 'ENODATA') console.error(`${op} ${what}: ${err}`); },
  onUnmounted: () => void stop(),
});
console.log(`mounted ${JSON.stringify(mount.session.connInfo())}`);
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
