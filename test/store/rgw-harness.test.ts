import { describe, expect, it } from 'vitest';
import { access } from 'node:fs/promises';
import { startRgw, type Rgw } from '../harness/rgw.js';
import { S3ObjectStore } from '../../src/store/index.js';

const alive = (pid: number) => {
  try { process.kill(pid, 0); return true; } catch { return false; }
};

describe('RGW test harness', () => {
  it('two clusters run side by side, isolated, and stop() leaves nothing behind', async () => {
    const started = await Promise.allSettled([startRgw(), startRgw({ bucket: 'second' })]);
    const clusters = started.filter((s): s is PromiseFulfilledResult<Rgw> => s.status === 'fulfilled').map((s) => s.value);
    try {
      const failed = started.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined;
      if (failed) throw failed.reason;
      const [a, b] = clusters;
      expect(a.endpoint).not.toBe(b.endpoint);
      expect(a.dir).not.toBe(b.dir);
      expect(a.secretKey).not.toBe(b.secretKey);
      const sa = new S3ObjectStore({ bucket: a.bucket, endpoint: a.endpoint, blockUser: a.accessKey, blockPass: a.secretKey });
      const sb = new S3ObjectStore({ bucket: b.bucket, endpoint: b.endpoint, blockUser: b.accessKey, blockPass: b.secretKey });
      try {
        await sa.put('only-in-a', Buffer.from('a'));
        expect((await sa.get('only-in-a')).toString()).toBe('a');
        expect((await sb.list('')).objects).toEqual([]);
        // a's keys do not open b's door
        const cross = new S3ObjectStore({ bucket: b.bucket, endpoint: b.endpoint, blockUser: a.accessKey, blockPass: a.secretKey });
        await expect(cross.list('')).rejects.toMatchObject({ kind: 'AccessDenied' });
        await cross.close();
      } finally {
        await sa.close();
        await sb.close();
      }
      const pids = clusters.flatMap((c) => c.pids!());
      expect(pids.length).toBe(6);
      expect(pids.every(alive)).toBe(true);
      await Promise.all(clusters.map((c) => c.stop()));
      expect(pids.filter(alive)).toEqual([]);
      for (const c of clusters) await expect(access(c.dir!)).rejects.toThrow();
    } finally {
      await Promise.all(clusters.map((c) => c.stop()));
    }
  }, 240_000);
});
