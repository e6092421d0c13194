import { mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export interface TlsMaterial {
  cert: string;
  key: string;
  /** SHA-256 fingerprint of the certificate, colon-separated hex (what clients pin). */
  fingerprint: string;
}

async function readIfExists(path: string): Promise<string | null> {
  try { return await readFile(path, 'utf8'); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

export function fingerprintOf(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

/**
 * The server's certificate: the operator's (--sslCert/--sslKey), or a self-signed one made on
 * first start and kept in `dir` (cert.pem, key.pem 0600) so clients can pin it across restarts.
 */
export async function loadTls(opts: { dir: string; certFile?: string; keyFile?: string }): Promise<TlsMaterial> {
  if (opts.certFile || opts.keyFile) {
    if (!opts.certFile || !opts.keyFile) throw new Error('--sslCert and --sslKey must be given together');
    const cert = await readIfExists(opts.certFile);
    if (cert === null) throw new Error(`certificate file ${opts.certFile} does not exist`);
    const key = await readIfExists(opts.keyFile);
    if (key === null) throw new Error(`key file ${opts.keyFile} does not exist`);
    return { cert, key, fingerprint: fingerprintOf(cert) };
  }
  const certPath = join(opts.dir, 'cert.pem');
  const keyPath = join(opts.dir, 'key.pem');
  const [cert, key] = await Promise.all([readIfExists(certPath), readIfExists(keyPath)]);
  if (cert && key) return { cert, key, fingerprint: fingerprintOf(cert) };
  const host = hostname();
  const pems = await generate([{ name: 'commonName', value: 'meta.flexfs' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 10 * 365 * 86400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [
        { type: 2, value: 'localhost' }, { type: 2, value: host },
        { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' },
      ] },
    ],
  });
  await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  await writeFile(keyPath, pems.private, { mode: 0o600 });
  await chmod(keyPath, 0o600);
  await writeFile(certPath, pems.cert, { mode: 0o644 });
  return { cert: pems.cert, key: pems.private, fingerprint: fingerprintOf(pems.cert) };
}
