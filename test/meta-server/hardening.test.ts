/**
 * meta.flexfs on disk and on the wire, through the real daemon: its files are owner-only, it
 * refuses a creds file others can read, and its TLS listener drops silent peers and caps connections.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeCreds } from '../../src/config/creds.js';
import { TLS_HANDSHAKE_TIMEOUT_MS } from '../../src/util/listener-limits.js';
import { holdTls, silentTcpClosedAfter } from '../harness/listener-probes.js';
import { freePort, tempDir, waitFor } from '../harness/ports.js';
import { probe, runCli } from './harness.js';
import { startDaemonEnv, type DaemonEnv } from './daemon-setup.js';

const MAX_CONNECTIONS = 6;
const modeOf = async (p: string) => (await stat(p)).mode & 0o777;

describe('meta.flexfs files, creds and listener limits (real daemon)', () => {
  let env: DaemonEnv;
  beforeAll(async () => { env = await startDaemonEnv(['--maxConnections', String(MAX_CONNECTIONS)]); });
  afterAll(async () => { await env?.daemon.stop(); await env?.cleanup(); });

  it('meta.db, its -wal and -shm and the TLS key are 0600, their folders 0700', async () => {
    await env.admin.createVolume({ name: 'modes1', blockStore: { url: 's3://bucket/modes1' } }); // a write: the WAL is in use
    for (const f of ['meta.db', 'meta.db-wal', 'meta.db-shm']) expect([f, await modeOf(join(env.dbFolder, f))]).toEqual([f, 0o600]);
    expect(await modeOf(env.dbFolder)).toBe(0o700);
    expect(await modeOf(join(env.home, 'meta', 'tls', 'key.pem'))).toBe(0o600);
    expect(await modeOf(join(env.home, 'meta', 'tls'))).toBe(0o700);
  });

  it('refuses to start with a creds file group or others can read, saying "chmod 600 FILE"', async () => {
    const dir = await tempDir('flexfs-meta-creds-');
    try {
      const creds = join(dir.path, 'meta', 'creds');
      await writeCreds(creds, { adminToken: 'open-admin-token-0123456789' });
      await chmod(creds, 0o644);
      const r = await runCli(['start', '--bindAddr', `127.0.0.1:${await freePort()}`, '--dbFolder', join(dir.path, 'db'), '--noSSL'], { FLEXFS_HOME: dir.path });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`chmod 600 ${creds}`);
      expect(r.stdout + r.stderr).not.toContain('open-admin-token');
    } finally { await dir.cleanup(); }
  });

  it('a raw TCP connection that never starts TLS is closed within the handshake timeout', async () => {
    const ms = await silentTcpClosedAfter(env.daemon.port, TLS_HANDSHAKE_TIMEOUT_MS + 5000);
    expect(ms).toBeGreaterThanOrEqual(TLS_HANDSHAKE_TIMEOUT_MS - 100); // the timeout, not something else, closed it
  });

  it(`connections beyond --maxConnections (${MAX_CONNECTIONS}) are closed at once; held ones keep working`, async () => {
    const held: Array<{ release(): void }> = [];
    try {
      for (let i = 0; i < MAX_CONNECTIONS; i++) {
        const c = await holdTls(env.daemon.port);
        held.push(c);
        expect(c.outcome).toBe('held');
      }
      const extra = await holdTls(env.daemon.port);
      held.push(extra);
      expect(extra.outcome).toBe('refused');
    } finally {
      for (const c of held) c.release();
    }
    // slots come back when connections end
    await waitFor(async () => (await probe(`${env.daemon.addr}/health`).catch(() => ({ status: 0 }))).status === 200, 10_000, 'a free slot');
    const metrics = await probe(`${env.daemon.addr}/metrics`);
    expect(metrics.body).toMatch(/flexfs_meta_connections_refused_total\{reason="max-connections"\} [1-9]/);
    expect(metrics.body).toMatch(/flexfs_meta_connections_refused_total\{reason="tls-handshake-timeout"\} [1-9]/);
  });
});
