import { describe, expect, it } from 'vitest';
import { parseMountOptions } from '../../cli/mount/flags.js';
import { checkInWindow, historyWindow, parseAtTime } from './window.js';

describe('history window and --atTime values', () => {
  it('the window runs from the later of the history start and now − retention, to now', () => {
    const now = Date.parse('2026-12-08T12:00:00Z');
    expect(historyWindow(now - 3_600_000, 86_400, now)).toEqual({ from: now - 3_600_000, to: now });
    expect(historyWindow(now - 7 * 86_400_000, 86_400, now)).toEqual({ from: now - 86_400_000, to: now });
    // nothing recorded yet: only now can be seen
    expect(historyWindow(null, 86_400, now)).toEqual({ from: now, to: now });
  });

  it('a time outside the window is EINVAL naming the window in ISO times and the fix', () => {
    const w = { from: Date.parse('2026-12-07T12:00:00Z'), to: Date.parse('2026-12-08T12:00:00Z') };
    expect(() => checkInWindow(w.from, w, 'data')).not.toThrow();
    expect(() => checkInWindow(w.to, w, 'data')).not.toThrow();
    for (const at of [w.from - 1, w.to + 1]) {
      expect(() => checkInWindow(at, w, 'data')).toThrow(
        `volume "data" can be seen as of 2026-12-07T12:00:00.000Z … 2026-12-08T12:00:00.000Z only (its history window; ${new Date(at).toISOString()} is outside it): pick a time inside it`);
    }
  });

  it('--atTime takes ISO 8601 with a zone or ms since the epoch, and refuses anything else naming the form', () => {
    expect(parseAtTime('2026-12-04T10:00:00Z')).toBe(Date.parse('2026-12-04T10:00:00Z'));
    expect(parseAtTime('2026-12-04T11:00:00.250+01:00')).toBe(Date.parse('2026-12-04T10:00:00.250Z'));
    expect(parseAtTime('1796378400000')).toBe(1796378400000);
    for (const bad of ['yesterday', '2026-12-04', '2026-12-04T10:00:00', '2026-13-45T99:00:00Z']) {
      expect(() => parseAtTime(bad)).toThrow(/2026-12-04T10:00:00Z/);
    }
  });

  it('fstab atTime= maps onto --atTime', () => {
    expect(parseMountOptions('_netdev,atTime=2026-12-04T10:00:00Z')).toEqual({ atTime: '2026-12-04T10:00:00Z' });
  });
});
