import { constants } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/harness/ports.js';
import type { Caller } from '../vfs/types.js';
import { openMountStack, type MountStackConfig } from './index.js';

const ROOT: Caller = { uid: 0, gid: 0, pid: 0 };

/** Create `path` with `data` through the stack's VFS, then read it back from a fresh stack. */
async function writeThrough(config: MountStackConfig, path: string, data: Buffer): Promise<void> {
  const stack = await openMountStack(config);
  await stack.fs.init();
  const fh = await stack.fs.create(path, 0o644, constants.O_WRONLY, ROOT);
  expect(await stack.fs.write(path, fh, data, data.length, 0, ROOT)).toBe(data.length);
  await stack.fs.release(path, fh, ROOT);
  await stack.close();
}

async function readThrough(config: MountStackConfig, path: string, length: number): Promise<Buffer> {
  const stack = await openMountStack(config);
  try {
    await stack.fs.init();
    const fh = await stack.fs.open(path, constants.O_RDONLY, ROOT);
    const buf = Buffer.alloc(length + 10);
    const n = await stack.fs.read(path, fh, buf, buf.length, 0, ROOT);
    await stack.fs.release(path, fh, ROOT);
    return buf.subarray(0, n);
  } finally {
    await stack.close();
  }
}

describe('openMountStack on a local dir (the --local stack, no FUSE)', () => {
  it('creates the volume, keeps data across close and reopen, blocks under DIR/blocks', async () => {
    const tmp = await tempDir('flexfs-stack-');
    try {
      const config: MountStackConfig = { volume: 'v1', mountpoint: '/nowhere', meta: { kind: 'local', dir: tmp.path }, codecWorkers: 0 };
      const data = Buffer.alloc(300_000, 'flexfs ');
      await writeThrough(config, '/a.txt', data);
      expect((await readdir(join(tmp.path, 'blocks'), { recursive: true })).length).toBeGreaterThan(0);
      expect((await readThrough(config, '/a.txt', data.length)).equals(data)).toBe(true);
      const again = await openMountStack(config);
      expect(again.settings.blockStore.url).toBe(`file://${join(tmp.path, 'blocks')}`);
      expect(again.sessionId).toBeTruthy();
      await again.close();
    } finally {
      await tmp.cleanup();
    }
  });

  it('an E2E volume: created with the secret, refused without it or with a wrong one', async () => {
    const tmp = await tempDir('flexfs-stack-');
    try {
      const base: MountStackConfig = { volume: 'sealed', meta: { kind: 'local', dir: tmp.path }, credsPath: '/etc/creds', codecWorkers: 0 };
      const data = Buffer.from('secret bytes');
      await writeThrough({ ...base, secret: 'correct horse' }, '/s', data);
      await expect(openMountStack(base)).rejects.toThrow('volume sealed is end-to-end encrypted: put its passphrase as "secret" in /etc/creds (or use --secretFile)');
      await expect(openMountStack({ ...base, secret: 'wrong' })).rejects.toThrow('wrong passphrase for volume sealed');
      expect((await readThrough({ ...base, secret: 'correct horse' }, '/s', data.length)).equals(data)).toBe(true);
    } finally {
      await tmp.cleanup();
    }
  });
});
