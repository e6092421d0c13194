import { describe, expect, it } from 'vitest';
import { UsageError } from '../shared/flag-values.js';
import { checkStartFlagValues, parseMountOptions, squashOptions } from './flags.js';

describe('--rootSquash / --allSquash (fstab rootSquash=, allSquash=)', () => {
  it('fstab options map onto the flags, and the flags onto the VFS options', () => {
    expect(parseMountOptions('_netdev,rootSquash=65534:65534')).toEqual({ rootSquash: '65534:65534' });
    expect(parseMountOptions('allsquash=1000:100')).toEqual({ allSquash: '1000:100' });
    expect(squashOptions({ rootSquash: '65534:65533' })).toEqual({ rootSquash: { uid: 65534, gid: 65533 }, allSquash: undefined });
    expect(squashOptions({})).toEqual({ rootSquash: undefined, allSquash: undefined });
  });

  it('bad values and both at once are usage errors naming the flag', () => {
    for (const bad of ['nobody', '1:', ':1', '-1:0', '1:2:3', '99999999999:0']) {
      expect(() => checkStartFlagValues({ rootSquash: bad })).toThrow(UsageError);
      expect(() => checkStartFlagValues({ allSquash: bad })).toThrow(/--allSquash .*expected uid:gid/);
    }
    expect(() => checkStartFlagValues({ rootSquash: '1:1', allSquash: '2:2' })).toThrow(/--rootSquash and --allSquash/);
    expect(() => checkStartFlagValues({ rootSquash: '0:0' })).not.toThrow();
  });
});
