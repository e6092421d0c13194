import { parseMountOptions, type MountStartFlags } from './flags.js';

const SUBCOMMANDS = new Set(['start', 'init', 'deinit', 'version', 'help', '-h', '--help', '-V', '--version']);

/**
 * mount(8) calls `mount.flexfs <volume> <dir> [-sfnv] [-o opts]`; map that onto `start`.
 * Returns undefined when argv is a normal subcommand invocation.
 */
export function helperInvocation(argv: string[]): { volume: string; mountpoint: string; flags: MountStartFlags; fake: boolean } | undefined {
  if (argv.length < 2 || SUBCOMMANDS.has(argv[0]) || argv[0].startsWith('-')) return undefined;
  const [volume, mountpoint, ...rest] = argv;
  let flags: MountStartFlags = {};
  let fake = false;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === '-o') {
      if (rest[i + 1] === undefined) throw new Error('-o needs an option list');
      flags = { ...flags, ...parseMountOptions(rest[++i]) };
    } else if (a.startsWith('-o')) {
      flags = { ...flags, ...parseMountOptions(a.slice(2)) };
    } else if (/^-[sfnvNi]+$/.test(a)) {
      // sloppy, no-mtab, verbose: nothing to do; -f (fake) means "do everything but mount".
      if (a.includes('f')) fake = true;
    } else {
      throw new Error(`unexpected argument "${a}" (mount helper form: mount.flexfs <volume> <dir> -o opts)`);
    }
  }
  return { volume, mountpoint, flags, fake };
}
