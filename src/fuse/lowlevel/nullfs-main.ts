import { LowLevelNullFs } from './nullfs.js';
import { LowLevelSession } from './session.js';

/**
 * The low-level null filesystem as a small CLI (for the bench and by hand):
 *   node dist/src/fuse/lowlevel/nullfs-main.js MNT [--ttl 0|3600] [--files N] [--readdirplus always|auto|off] [--threads N] [--inline]
 * Serves until SIGTERM/SIGINT, then unmounts and prints the write statistics.
 */
function parse(argv: string[]): { mountpoint: string; ttl: number; files: number; threads: number; inline: boolean; readdirplus: 'always' | 'auto' | 'off' } {
  const usage = 'usage: nullfs-main MNT [--ttl SECONDS] [--files N] [--readdirplus always|auto|off] [--threads N] [--inline]';
  const r = { mountpoint: '', ttl: 0, files: 10_000, threads: 4, inline: false, readdirplus: 'always' as 'always' | 'auto' | 'off' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { const v = argv[++i]; if (v === undefined) throw new Error(`${a} needs a value; ${usage}`); return v; };
    if (a === '--ttl') r.ttl = Number(val());
    else if (a === '--files') r.files = Number(val());
    else if (a === '--threads') r.threads = Number(val());
    else if (a === '--inline') r.inline = true;
    else if (a === '--readdirplus') r.readdirplus = val() as typeof r.readdirplus;
    else if (!a.startsWith('-') && !r.mountpoint) r.mountpoint = a;
    else throw new Error(`unknown argument ${a}; ${usage}`);
  }
  if (!r.mountpoint) throw new Error(usage);
  if (!(r.ttl >= 0) || !(r.files >= 1)) throw new Error(`--ttl must be >= 0 and --files >= 1; ${usage}`);
  if (!['always', 'auto', 'off'].includes(r.readdirplus)) throw new Error(`--readdirplus must be always, auto or off; ${usage}`);
  return r;
}

async function main(): Promise<void> {
  const a = parse(process.argv.slice(2));
  const fs = new LowLevelNullFs({ ttl: a.ttl, files: a.files });
  const session = new LowLevelSession(fs, {
    fsname: 'nullfs-ll', subtype: 'nullfs', allowOther: true, readdirplus: a.readdirplus,
    receive: a.inline ? 'inline' : 'threads', maxThreads: a.threads,
    onError: (op, err) => console.error(`nullfs: ${op}: ${String(err)}`),
    onUnmounted: () => process.exit(0),
  });
  await session.mount(a.mountpoint);
  const c = session.connInfo();
  console.log(`nullfs (low-level) mounted at ${a.mountpoint}: ttl ${a.ttl}, max_write ${c?.maxWrite}, proto 7.${c?.protoMinor}`);
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await session.unmount();
    console.log(`writes: ${fs.writes} calls, ${fs.writeBytes} bytes, max ${fs.maxWrite}`);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

main().catch((e) => {
  console.error(`nullfs: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
