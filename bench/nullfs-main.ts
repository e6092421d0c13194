import { resolve } from 'node:path';
import { isFsError } from '../src/errors/index.js';
import { findFuseMount } from '../src/fuse/mountinfo.js';
import { LowLevelSession, type LowLevelMountOptions } from '../src/fuse/lowlevel/session.js';
import { NullFs } from './nullfs.js';

/**
 * Child-process entry: mount the null filesystem (bench/nullfs.ts) at argv[2] on the low-level
 * FUSE layer with the options the flexfs mount uses (src/fuse/kernel-mount.ts: fsname, subtype
 * flexfs, allow_other as root, default_permissions, 1 MiB max_write, readdirplus always,
 * handle_killpriv, dont_mask, attr timeout 0, entry timeout 1 s), serve until SIGTERM/SIGINT, then
 * unmount and print the write statistics. Optional argv[3]: JSON of LowLevelMountOptions to
 * override (e.g. '{"receive":"inline"}', '{"readOnly":true}', '{"entryTimeout":0}').
 *   node dist/bench/nullfs-main.js /mnt/null ['{"maxThreads":2}']
 */
type JsonOptions = Omit<LowLevelMountOptions, 'onError' | 'onUnmounted'>;

async function main(): Promise<void> {
  const arg = process.argv[2];
  if (!arg || arg.startsWith('-')) throw new Error('usage: nullfs-main <mountpoint> [options-json]');
  const mountpoint = resolve(arg);
  const extra = process.argv[3] ? (JSON.parse(process.argv[3]) as JsonOptions) : {};
  if (await findFuseMount(mountpoint)) throw new Error(`${mountpoint} is already a FUSE mountpoint`);
  const opts: LowLevelMountOptions = {
    fsname: 'nullfs',
    subtype: 'flexfs',
    allowOther: process.getuid?.() === 0,
    defaultPermissions: true,
    maxWrite: 1 << 20,
    readdirplus: 'always',
    handleKillpriv: true,
    dontMask: true,
    attrTimeout: 0,
    entryTimeout: 1,
    ...extra,
    onError: (op, err) => { if (!isFsError(err)) console.error(`nullfs: ${op}: ${String(err)}`); },
    onUnmounted: () => process.exit(0),
  };
  const fs = new NullFs({ attrTimeout: opts.attrTimeout, entryTimeout: opts.entryTimeout });
  const session = new LowLevelSession(fs, opts);
  await session.mount(mountpoint);
  const c = session.connInfo();
  console.log(`nullfs mounted at ${mountpoint}: max_write ${c?.maxWrite}, proto 7.${c?.protoMinor}`);
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    try {
      await session.unmount();
      const s = fs.statistics();
      console.log(`writes: ${s.writes} calls, ${s.writeBytes} bytes, max ${s.maxWrite}`);
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
