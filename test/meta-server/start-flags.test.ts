import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { access, writeFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { writeCreds } from '../../src/config/creds.js';
import { AdminClient, connectMeta } from '../../src/meta/client/index.js';
import { ROOT_INO } from '../../src/meta/types.js';
import { tempDir, waitFor } from '../harness/ports.js';
import { ensureBuilt, probe, runCli, startDaemon, type Daemon } from './harness.js';

/** `meta.flexfs start` flags, each checked on a real daemon: --noSSL, --sslCert/--sslKey, --verbose. */

const ADMIN_TOKEN = 'start-flags-admin-token-0123456789';
const root = { uid: 0, gid: 0 };
const exists = (p: string) => access(p).then(() => true, () => false);

/** pino records the daemon printed (one JSON object per line). */
function records(out: string): Array<Record<string, unknown>> {
  return out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(s.getPeerX509Certificate()!.fingerprint256);
      s.end();
    });
    s.on('error', reject);
  });
}

describe('meta.flexfs start flags', () => {
  let home: { path: string; cleanup(): Promise<void> };
  let plain: Daemon;
  let custom: Daemon;
  let certFile: string;
  let keyFile: string;
  let cert: string;
  let key: string;

  beforeAll(async () => {
    await ensureBuilt();
    home = await tempDir('flexfs-startflags-');
    await writeCreds(join(home.path, 'meta', 'creds'), { adminToken: ADMIN_TOKEN, blockUser: 'AKIDFLAGS', blockPass: 'flags-bucket-secret' });
    const pems = await generate([{ name: 'commonName', value: 'flexfs-test-operator-cert' }], {
      keyType: 'ec', algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] }],
    });
    cert = pems.cert;
    key = pems.private;
    certFile = join(home.path, 'operator-cert.pem');
    keyFile = join(home.path, 'operator-key.pem');
    await writeFile(certFile, cert);
    await writeFile(keyFile, key, { mode: 0o600 });
    plain = await startDaemon({ home: home.path, args: ['--dbFolder', join(home.path, 'db-plain')], noSSL: true });
    custom = await startDaemon({ home: home.path, args: ['--dbFolder', join(home.path, 'db-custom'), '--sslCert', certFile, '--sslKey', keyFile, '--verbose'] });
  });
  afterAll(async () => {
    await plain?.stop();
    await custom?.stop();
    await home?.cleanup();
  });

  it('--noSSL serves plain HTTP and WebSocket, makes no certificate, and logs no debug records', async () => {
    expect((await probe(`http://127.0.0.1:${plain.port}/health`)).status).toBe(200);
    await expect(probe(`https://127.0.0.1:${plain.port}/health`)).rejects.toThrow();
    const admin = new AdminClient(`http://127.0.0.1:${plain.port}`, ADMIN_TOKEN);
    await admin.createVolume({ name: 'plain1', blockStore: { url: 'file:///tmp/plain1' } });
    const { secret } = await admin.createToken({ volume: 'plain1' });
    const s = await connectMeta({ addr: `http://127.0.0.1:${plain.port}`, token: secret });
    try {
      expect((await s.store.getattr(ROOT_INO, root)).type).toBe('dir');
    } finally { await s.close(); }
    expect(await exists(join(home.path, 'meta', 'tls', 'cert.pem'))).toBe(false);
    const recs = records(plain.output());
    expect(recs.find((r) => r.msg === 'meta.flexfs listening')?.url).toBe(`http://127.0.0.1:${plain.port}`);
    expect(recs.filter((r) => (r.level as number) < 30)).toEqual([]);
  });

  it('--sslCert/--sslKey serve the operator\'s certificate instead of a self-signed one', async () => {
    const ours = new X509Certificate(cert).fingerprint256;
    expect(await servedFingerprint(custom.port)).toBe(ours);
    expect(await exists(join(home.path, 'meta', 'tls', 'cert.pem'))).toBe(false);
    expect(records(custom.output()).some((r) => r.fingerprint === ours)).toBe(true);
    const admin = new AdminClient(`127.0.0.1:${custom.port}`, ADMIN_TOKEN, { ca: certFile });
    await admin.createVolume({ name: 'custom1', blockStore: { url: 'file:///tmp/custom1' } });
    const { secret } = await admin.createToken({ volume: 'custom1' });
    for (const tls of [{ ca: certFile }, { fingerprint: ours }]) {
      const s = await connectMeta({ addr: `127.0.0.1:${custom.port}`, token: secret, tls });
      try {
        expect((await s.store.getattr(ROOT_INO, root)).type).toBe('dir');
      } finally { await s.close(); }
    }
    expect(custom.output()).not.toContain(key.split('\n')[1]);
    const half = await runCli(['start', '--bindAddr', '127.0.0.1:0', '--dbFolder', join(home.path, 'db-half'), '--sslCert', certFile],
      { FLEXFS_HOME: home.path });
    expect(half.code).not.toBe(0);
    expect(half.stderr).toMatch(/--sslCert and --sslKey must be given together/);
  });

  it('--verbose logs a debug record per request, with no secrets', async () => {
    const admin = new AdminClient(`127.0.0.1:${custom.port}`, ADMIN_TOKEN, { ca: certFile });
    await admin.createVolume({ name: 'verbose1', blockStore: { url: 'file:///tmp/verbose1' } });
    const { secret } = await admin.createToken({ volume: 'verbose1' });
    const s = await connectMeta({ addr: `127.0.0.1:${custom.port}`, token: secret, tls: { ca: certFile } });
    try {
      await s.store.mkdir(ROOT_INO, 'seen-in-debug-log', 0o755, root);
    } finally { await s.close(); }
    const debug = await waitFor(() => {
      const d = records(custom.output()).filter((r) => r.level === 20 && r.msg === 'rpc' && r.op === 'mkdir');
      return d.length > 0 ? d : undefined;
    }, 10_000, 'a debug "rpc" record for mkdir');
    expect(debug[0]).toMatchObject({ name: 'meta.flexfs', op: 'mkdir' });
    expect(typeof debug[0].ms).toBe('number');
    const out = custom.output();
    for (const sec of [secret, ADMIN_TOKEN, 'flags-bucket-secret']) expect(out).not.toContain(sec);
  });
});
