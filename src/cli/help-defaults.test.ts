import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  LISTENER_DEFAULTS, MEMORY_CACHE_DEFAULT, META_SERVER_DEFAULTS, OPS_DEFAULTS, PROXY_DEFAULTS, VFS_DEFAULTS, VOLUME_DEFAULTS,
} from '../config/defaults.js';
import { sizeFlag } from '../config/sizes.js';
import { durationFlag } from './shared/table.js';
import { registerStart as registerMetaStart } from './meta/start.js';
import { registerVolume } from './meta/volume.js';
import { registerGcCommands } from './meta/gc.js';
import { registerFsckCommands } from './meta/fsck.js';
import { registerStart as registerProxyStart } from './proxy/start.js';
import { START_HELP } from './mount/help.js';
import { registerRecover } from './flexfs/recover.js';

/** One subcommand (`path` as typed after the program name) of a program built by `register`. */
function command(register: (p: Command) => void, ...path: string[]): Command {
  const program = new Command('x');
  register(program);
  let cmd: Command = program;
  for (const name of path) cmd = cmd.commands.find((c) => c.name() === name)!;
  return cmd;
}

/** The default `--help` shows for `flag` of `cmd` (checked against the printed help text too). */
function defaultOf(cmd: Command, flag: string): string | undefined {
  const value = cmd.options.find((o) => o.long === flag)?.defaultValue as string | undefined;
  if (value !== undefined) expect(cmd.helpInformation().replace(/\s+/g, ' ')).toContain(`(default: "${value}")`);
  return value;
}


describe('--help prints the defaults from the defaults table (config/defaults.ts)', () => {
  it('meta.flexfs start', () => {
    const t = command(registerMetaStart, 'start');
    expect(defaultOf(t, '--sessionTtl')).toBe(String(META_SERVER_DEFAULTS.sessionTtlSeconds));
    expect(defaultOf(t, '--engine')).toBe(META_SERVER_DEFAULTS.engine);
    expect(defaultOf(t, '--maxConnections')).toBe(String(LISTENER_DEFAULTS.maxConnections));
    expect(defaultOf(t, '--bindAddr')).toBe(`0.0.0.0:${META_SERVER_DEFAULTS.port}`);
  });

  it('meta.flexfs volume create, gc and fsck', () => {
    const v = command(registerVolume, 'volume', 'create');
    expect(defaultOf(v, '--blockSize')).toBe(sizeFlag(VOLUME_DEFAULTS.blockSize));
    expect(defaultOf(v, '--compression')).toBe(VOLUME_DEFAULTS.compression);
    expect(defaultOf(v, '--retention')).toBe(durationFlag(VOLUME_DEFAULTS.retentionSeconds));
    const gc = command(registerGcCommands, 'gc');
    expect(defaultOf(gc, '--concurrency')).toBe(String(OPS_DEFAULTS.gcConcurrency));
    expect(defaultOf(gc, '--orphanAge')).toBe(durationFlag(OPS_DEFAULTS.orphanAgeSeconds));
    expect(defaultOf(command(registerFsckCommands, 'fsck'), '--orphanAge')).toBe(durationFlag(OPS_DEFAULTS.orphanAgeSeconds));
  });

  it('flexfs recover', () => {
    expect(defaultOf(command(registerRecover, 'recover'), '--storeDeadline')).toBe(durationFlag(VFS_DEFAULTS.putDeadlineMs / 1000));
  });

  it('proxy.flexfs start', () => {
    const t = command(registerProxyStart, 'start');
    expect(defaultOf(t, '--bindAddr')).toBe(`0.0.0.0:${PROXY_DEFAULTS.port}`);
    expect(defaultOf(t, '--diskQuota')).toBe(PROXY_DEFAULTS.diskQuota);
    expect(defaultOf(t, '--maxGets')).toBe(String(PROXY_DEFAULTS.maxGets));
    expect(defaultOf(t, '--maxFetches')).toBe(String(PROXY_DEFAULTS.maxFetches));
    expect(defaultOf(t, '--maxQueuedGets')).toBe(String(PROXY_DEFAULTS.maxQueuedGets));
    expect(defaultOf(t, '--maxPuts')).toBe(String(PROXY_DEFAULTS.maxPuts));
    expect(defaultOf(t, '--maxQueuedPuts')).toBe(String(PROXY_DEFAULTS.maxQueuedPuts));
    expect(defaultOf(t, '--maxConnections')).toBe(String(LISTENER_DEFAULTS.maxConnections));
  });

  it('mount.flexfs start: the cache sizes', () => {
    expect(START_HELP.memCapacity).toContain(`${MEMORY_CACHE_DEFAULT.ramFraction * 100}% of RAM`);
    expect(START_HELP.memCapacity).toContain(sizeFlag(MEMORY_CACHE_DEFAULT.minBytes));
    expect(START_HELP.diskQuota).toContain(`default ${sizeFlag(VFS_DEFAULTS.diskQuota)}`);
  });

  it('sizeFlag and durationFlag write what parseSize and parseDuration read', () => {
    expect(sizeFlag(4 * 2 ** 20)).toBe('4M');
    expect(sizeFlag(256 * 1024)).toBe('256K');
    expect(sizeFlag(2 ** 30)).toBe('1G');
    expect(sizeFlag(1000)).toBe('1000');
    expect(durationFlag(86_400)).toBe('1d');
    expect(durationFlag(7200)).toBe('2h');
    expect(durationFlag(90)).toBe('90s');
  });
});
