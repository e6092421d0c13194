import { LowLevelSession } from '../src/fuse/lowlevel/session.js';
import { LlMemFs } from './llmemfs.js';

/**
 * Child-process entry for test/fuse/lowlevel.test.ts: mount LlMemFs on the low-level layer.
 *   node dist/bench/llmemfs-main.js MNT [--ttl S] [--deadline-ms N] [--late-ms N] [--writeback] [--inline] [--locks]
 * --locks: getlk/setlk/flock answered by a lock table (bench/locktable.ts); without it the kernel keeps locks.
 * Serves until SIGTERM/SIGINT, then unmounts (exit 0 when clean).
 */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const mountpoint = args[0];
  if (!mountpoint || mountpoint.startsWith('-')) throw new Error('usage: llmemfs-main MNT [--ttl S] [--deadline-ms N] [--late-ms N]');
  const opt = (name: string, d: number) => { const i = args.indexOf(name); return i > 0 ? Number(args[i + 1]) : d; };
  const deadlineMs = opt('--deadline-ms', 30_000);
  const fs = new LlMemFs(opt('--ttl', 3600), opt('--late-ms', deadlineMs * 2), 200, args.includes('--locks'));
  const session = new LowLevelSession(fs, {
    fsname: 'llmemfs', subtype: 'llmemfs', allowOther: true, defaultPermissions: true, deadlineMs,
    writebackCache: args.includes('--writeback'),
    receive: args.includes('--inline') ? 'inline' : 'threads',
    callerGroupsOps: ['lookup', 'getattr', 'create', 'mkdir', 'setattr'],
    onError: (op, err) => console.error(`llmemfs: ${op}: ${String(err)}`),
    onUnmounted: () => process.exit(0),
  });
  fs.session = session;
  await session.mount(mountpoint);
  console.log(`llmemfs mounted at ${mountpoint}: ${JSON.stringify(session.connInfo())}`);
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    try {
      await session.unmount();
      process.exit(0);
    } catch (e) {
      console.error(`llmemfs: unmount failed: ${String(e)}`);
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

main().catch((e) => {
  console.error(`llmemfs: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
