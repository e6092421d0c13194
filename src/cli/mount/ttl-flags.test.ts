import { describe, expect, it } from 'vitest';
import { VFS_DEFAULTS } from '../../config/defaults.js';
import { kernelTtls, parseMountOptions, parseStoreDeadline } from './flags.js';
import { START_HELP } from './help.js';

describe('--attrTTL / --entryTTL (fstab attrttl=, entryttl=)', () => {
  it('fstab options map onto the flags', () => {
    expect(parseMountOptions('attrttl=30,entryttl=5,noacl')).toEqual({ attrTTL: '30', entryTTL: '5', acl: false });
    expect(parseMountOptions('writeback_cache')).toEqual({ writebackCache: true });
  });

  it('unset: the mount\'s defaults; set: the kernel\'s timeouts, and the mount\'s cache at least as long', () => {
    expect(kernelTtls({})).toEqual({ attrTimeout: undefined, entryTimeout: undefined, negativeTimeout: undefined, cacheTtlMs: undefined });
    expect(kernelTtls({ attrTTL: '60', entryTTL: '0.5' })).toEqual({ attrTimeout: 60, entryTimeout: 0.5, negativeTimeout: undefined, cacheTtlMs: 60_000 });
    // below the mount's own default the mount keeps its default
    expect(kernelTtls({ attrTTL: '0.2' }).cacheTtlMs).toBeUndefined();
    expect(VFS_DEFAULTS.attrTtlMs).toBeGreaterThan(200);
  });

  it('bad values are refused, naming the flag', () => {
    expect(() => kernelTtls({ attrTTL: '-1' })).toThrow(/--attrTTL "-1": expected seconds/);
    expect(() => kernelTtls({ entryTTL: 'soon' })).toThrow(/--entryTTL "soon"/);
    // ACL mounts may cache names too: the kernel checks ACLs itself (FUSE_POSIX_ACL)
    expect(kernelTtls({ entryTTL: '10' }).entryTimeout).toBe(10);
    expect(kernelTtls({ negativeTTL: '30' }).negativeTimeout).toBe(30);
    expect(kernelTtls({ entryTTL: '0' }).entryTimeout).toBe(0);
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
