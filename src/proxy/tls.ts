import { X509Certificate, randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import selfsigned from 'selfsigned';

/**
 * The proxy's TLS identity: --sslCert/--sslKey when given, else a self-signed certificate kept in
 * `folder` (cert.pem, key.pem 0600), generated on first start for localhost, 127.0.0.1, ::1 and
 * the host name and addresses. Clients pin it by using cert.pem as their CA (see docs/PROXY.md).
 */
export async function loadOrCreateTls(opts: { certFile?: string; keyFile?: string; folder: string }): Promise<{ cert: string; key: string; certFile: string; fingerprint256: string }> {
  if (opts.certFile || opts.keyFile) {
    if (!opts.certFile || !opts.keyFile) throw new Error('--sslCert and --sslKey must be given together');
    const [cert, key] = await Promise.all([readPem(opts.certFile, 'certificate'), readPem(opts.keyFile, 'key')]);
    return { cert, key, certFile: opts.certFile, fingerprint256: new X509Certificate(cert).fingerprint256 };
  }
  const certFile = join(opts.folder, 'cert.pem');
  const keyFile = join(opts.folder, 'key.pem');
  try {
    const [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
    return { cert, key, certFile, fingerprint256: new X509Certificate(cert).fingerprint256 };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read TLS files in ${opts.folder}: ${(e as Error).message}`);
  }
  const host = hostname();
  const notAfterDate = new Date(Date.now() + 10 * 365 * 86400_000);
  // A unique organizational unit: clients trusting several proxies' self-signed certs at once
  // (a CA bundle) need distinct subjects, or OpenSSL checks the wrong one.
  const subject = [{ name: 'commonName', value: host }, { name: 'organizationName', value: 'flexfs proxy' },
    { shortName: 'OU', value: randomUUID() }];
  const pems = await selfsigned.generate(subject, {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [
        { type: 2, value: 'localhost' }, { type: 2, value: host }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' },
        ...localAddresses().map((ip) => ({ type: 7 as const, ip })),
      ] },
    ],
  });
  await mkdir(opts.folder, { recursive: true, mode: 0o700 });
  await writeFile(keyFile, pems.private, { mode: 0o600 });
  await writeFile(certFile, pems.cert, { mode: 0o644 });
  return { cert: pems.cert, key: pems.private, certFile, fingerprint256: new X509Certificate(pems.cert).fingerprint256 };
}

async function readPem(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read TLS ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** This host's non-loopback addresses, so clients may reach the proxy by IP with the host name check on. */
function localAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && !a.address.startsWith('fe80:')) out.push(a.address);
  }
  return out;
}
