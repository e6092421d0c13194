import { describe, expect, it } from 'vitest';
import { KERNEL_CACHE_DEFAULTS, VFS_DEFAULTS } from '../../config/defaults.js';
import { kernelTtls, parseMountOptions, parseStoreDeadline } from './flags.js';
import { START_HELP } from './help.js';

describe('--attrTTL / --entryTTL (fstab attrttl=, entryttl=)', () => {
  it('fstab options map onto the flags', () => {
    expect(parseMountOptions('attrttl=30,entryttl=5,noacl')).toEqual({ attrTTL: '30', entryTTL: '5', acl: false });
    expect(parseMountOptions('writeback_cache')).toEqual({ writebackCache: true });
  });

  it('unset: long while a meta.flexfs mount hears other mounts, short otherwise and on --local', () => {
    const H = KERNEL_CACHE_DEFAULTS.heard, U = KERNEL_CACHE_DEFAULTS.unheard;
    expect(kernelTtls({}, true).timeouts).toEqual({ heard: H, unheard: U });
    expect(kernelTtls({}, false).timeouts).toEqual({ heard: H, unheard: U });
    expect(H.attr).toBeGreaterThanOrEqual(30);
    expect(H.entry).toBeGreaterThanOrEqual(30);
    expect(U.attr).toBe(0);
    expect(U.entry).toBeLessThanOrEqual(1);
    // the mount's own cache trusts at least as long as the kernel
    expect(kernelTtls({}, true).cacheMs).toEqual({ heard: H.attr * 1000, unheard: VFS_DEFAULTS.attrTtlMs });
    expect(VFS_DEFAULTS.attrTtlMs).toBeGreaterThan(200);
  });

  it('set: both cases; a meta.flexfs mount never trusts past the short default while it hears nothing', () => {
    const remote = kernelTtls({ attrTTL: '600', entryTTL: '0.5', negativeTTL: '30' }, true).timeouts;
    expect(remote.heard).toEqual({ attr: 600, entry: 0.5, negative: 30 });
    expect(remote.unheard).toEqual({ attr: 0, entry: 0.5, negative: 0 });
    // --local takes the flags as given (nothing is ever pushed there)
    const local = kernelTtls({ attrTTL: '600', entryTTL: '5' }, false);
    expect(local.timeouts.unheard).toEqual({ attr: 600, entry: 5, negative: KERNEL_CACHE_DEFAULTS.unheard.negative });
    expect(local.cacheMs.unheard).toBe(600_000);
    // 0: every stat and lookup asks (today's behaviour before coherent caching)
    expect(kernelTtls({ attrTTL: '0', entryTTL: '0' }, true).timeouts.heard).toEqual({ attr: 0, entry: 0, negative: KERNEL_CACHE_DEFAULTS.heard.negative });
  });

  it('bad values are refused, naming the flag', () => {
    expect(() => kernelTtls({ attrTTL: '-1' }, true)).toThrow(/--attrTTL "-1": expected seconds/);
    expect(() => kernelTtls({ entryTTL: 'soon' }, true)).toThrow(/--entryTTL "soon"/);
    expect(() => kernelTtls({ negativeTTL: '' }, false)).toThrow(/--negativeTTL ""/);
  });
});

describe('--storeDeadline (fstab storedeadline=)', () => {
  it('takes seconds or a duration, within what the FUSE request deadline leaves', () => {
    expect(parseMountOptions('storedeadline=10m')).toEqual({ storeDeadline: '10m' });
    expect(parseStoreDeadline('90')).toBe(90_000);
    expect(parseStoreDeadline('5m')).toBe(300_000);
    expect(() => parseStoreDeadline('0')).toThrow(/--storeDeadline "0": must be from 1s to/);
    expect(() => parseStoreDeadline('20m')).toThrow(/FUSE request deadline/);
    expect(() => parseStoreDeadline('later')).toThrow(/expected seconds or a duration/);
    expect(START_HELP.storeDeadline).toContain(`default ${VFS_DEFAULTS.putDeadlineMs / 60_000}m`);
  });
});
