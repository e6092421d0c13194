/**
 * `proxy.flexfs start` flags through the real daemon (a child process, file:// bucket): a given
 * certificate (--sslCert/--sslKey) is the one served, and --diskQuota as a percentage is that share
 * of the filesystem holding --diskFolder.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { stat, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import tls from 'node:tls';
import selfsigned from 'selfsigned';
import { writeCreds } from '../../src/config/creds.js';
import { formatSize } from '../../src/config/sizes.js';
import { tempDir } from '../harness/ports.js';
import { ensureBuilt, metricsOf, request, startProxyProcess, type ProxyProc } from './harness.js';

/** The certificate a TLS server on 127.0.0.1:port presents (no trust check: we only look). */
function servedCertificate(port: number): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const raw = socket.getPeerCertificate().raw;
      socket.destroy();
      resolve(new X509Certificate(raw));
    });
    socket.once('error', reject);
  });
}

/** The proxy's start-up log record (JSON lines on stderr). */
function listeningRecord(p: ProxyProc): Record<string, unknown> {
  const line = p.logs().split('\n').find((l) => l.includes('"proxy.flexfs listening"'));
  expect(line, p.logs()).toBeDefined();
  return JSON.parse(line!) as Record<string, unknown>;
}

describe('proxy.flexfs start flags (real daemon)', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  const procs: ProxyProc[] = [];

  async function start(name: string, quota: string, args: string[] = [], certFile?: string): Promise<ProxyProc> {
    const home = join(dir.path, name, 'home');
    await writeCreds(join(home, 'proxy', 'creds'), { token: `token-${name}-0123456789abcdef` });
    const p = await startProxyProcess({
      home, diskFolder: join(dir.path, name, 'cache'), store: `file://${join(dir.path, 'bucket')}`, quota, args, certFile,
    });
    procs.push(p);
    return p;
  }

  beforeAll(async () => {
    await ensureBuilt();
    dir = await tempDir('flexfs-proxy-flags-');
  });
  afterAll(async () => {
    await Promise.allSettled(procs.map((p) => p.stop()));
    await dir?.cleanup();
  });

  it('--sslCert/--sslKey: the given certificate is served (and trusted as a CA for 127.0.0.1); none is generated', async () => {
    const pems = await selfsigned.generate([{ name: 'commonName', value: 'flexfs-given-cert' }], {
      keyType: 'ec', algorithm: 'sha256', notAfterDate: new Date(Date.now() + 86400_000),
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
    });
    const certFile = join(dir.path, 'given-cert.pem');
    const keyFile = join(dir.path, 'given-key.pem');
    await writeFile(certFile, pems.cert);
    await writeFile(keyFile, pems.private, { mode: 0o600 });
    const given = new X509Certificate(pems.cert);

    const p = await start('tls', '16M', ['--sslCert', certFile, '--sslKey', keyFile], certFile);
    const served = await servedCertificate(p.port);
    expect(served.fingerprint256).toBe(given.fingerprint256);
    expect(served.subject).toContain('CN=flexfs-given-cert');
    // Chain and host name check pass with the given certificate as the only CA.
    expect((await request({ port: p.port, ca: pems.cert }, 'GET', '/health')).status).toBe(200);
    const rec = listeningRecord(p);
    expect(rec.certFile).toBe(certFile);
    expect(rec.fingerprint256).toBe(given.fingerprint256);
    await expect(stat(join(p.opts.home, 'proxy', 'cert.pem'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(p.logs()).not.toContain(pems.private.split('\n')[1]);
  });

  it('--diskQuota 10%: the quota is 10% of the filesystem holding the disk folder (metrics and log)', async () => {
    const p = await start('pct', '10%');
    const fs = await statfs(p.opts.diskFolder);
    const expected = Math.floor((fs.blocks * fs.bsize * 10) / 100);
    expect(expected).toBeGreaterThan(0);
    expect((await metricsOf(p)).get('flexfs_proxy_cache_quota_bytes')).toBe(expected);
    expect(listeningRecord(p).quota).toBe(formatSize(expected));
    // Control: another percentage gives another quota (the flag is not ignored).
    const q = await start('pct25', '25%');
    expect((await metricsOf(q)).get('flexfs_proxy_cache_quota_bytes')).toBe(Math.floor((fs.blocks * fs.bsize * 25) / 100));
  });
});
