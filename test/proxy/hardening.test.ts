/**
 * proxy.flexfs on disk and on the wire, through the real daemon (file:// bucket): owner-only files,
 * refusal of a creds file others can read, and a TLS listener that drops silent peers and caps
 * connections.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeCreds } from '../../src/config/creds.js';
import { TLS_HANDSHAKE_TIMEOUT_MS } from '../../src/util/listener-limits.js';
import { holdTls, silentTcpClosedAfter } from '../harness/listener-probes.js';
import { tempDir, waitFor } from '../harness/ports.js';
import { ensureBuilt, metricsOf, request, runCli, startProxyProcess, type ProxyProc } from './harness.js';

const MAX_CONNECTIONS = 6;
const modeOf = async (p: string) => (await stat(p)).mode & 0o777;

describe('proxy.flexfs files, creds and listener limits (real daemon)', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let proxy: ProxyProc;
  beforeAll(async () => {
    await ensureBuilt();
    dir = await tempDir('flexfs-proxy-hard-');
    const home = join(dir.path, 'home');
    await writeCreds(join(home, 'proxy', 'creds'), { token: 'hardening-token-0123456789abcdef' });
    proxy = await startProxyProcess({
      home, diskFolder: join(dir.path, 'cache'), store: `file://${join(dir.path, 'bucket')}`, quota: '64M',
      args: ['--maxConnections', String(MAX_CONNECTIONS)],
    });
  });
  afterAll(async () => {
    await proxy?.stop();
    await dir?.cleanup();
  });

  it('the TLS key is 0600; the creds folder and the cache folders 0700', async () => {
    expect(await modeOf(join(dir.path, 'home', 'proxy', 'key.pem'))).toBe(0o600);
    expect(await modeOf(join(dir.path, 'home', 'proxy'))).toBe(0o700);
    for (const d of ['cache', 'cache/blocks', 'cache/tmp']) expect([d, await modeOf(join(dir.path, d))]).toEqual([d, 0o700]);
  });

  it('refuses to start with a creds file group or others can read, saying "chmod 600 FILE"', async () => {
    const home = join(dir.path, 'open-home');
    const creds = join(home, 'proxy', 'creds');
    await writeCreds(creds, { token: 'open-token-0123456789abcdef' });
    await chmod(creds, 0o644);
    const r = await runCli(['start', '--store', `file://${join(dir.path, 'bucket')}`, '--bindAddr', '127.0.0.1:0',
      '--diskFolder', join(dir.path, 'cache2'), '--credsFile', creds], { env: { FLEXFS_HOME: home } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`chmod 600 ${creds}`);
    expect(r.stdout + r.stderr).not.toContain('open-token');
  });

  it('a raw TCP connection that never starts TLS is closed within the handshake timeout', async () => {
    const ms = await silentTcpClosedAfter(proxy.port, TLS_HANDSHAKE_TIMEOUT_MS + 5000);
    expect(ms).toBeGreaterThanOrEqual(TLS_HANDSHAKE_TIMEOUT_MS - 100);
  });

  it(`connections beyond --maxConnections (${MAX_CONNECTIONS}) are closed at once; slots come back`, async () => {
    const held: Array<{ release(): void }> = [];
    try {
      for (let i = 0; i < MAX_CONNECTIONS; i++) {
        const c = await holdTls(proxy.port);
        held.push(c);
        expect(c.outcome).toBe('held');
      }
      const extra = await holdTls(proxy.port);
      held.push(extra);
      expect(extra.outcome).toBe('refused');
    } finally {
      for (const c of held) c.release();
    }
    await waitFor(async () => (await request({ port: proxy.port, insecure: true }, 'GET', '/health').catch(() => ({ status: 0 }))).status === 200, 10_000, 'a free slot');
    const m = await metricsOf(proxy);
    expect(m.get('flexfs_proxy_connections_refused_total{reason="max-connections"}')).toBeGreaterThan(0);
    expect(m.get('flexfs_proxy_connections_refused_total{reason="tls-handshake-timeout"}')).toBeGreaterThan(0);
  });
});
