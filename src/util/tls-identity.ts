import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import selfsigned from 'selfsigned';

/** A daemon's TLS identity: PEMs, where the certificate is, and its SHA-256 fingerprint (what clients pin). */
export interface TlsIdentity {
  cert: string;
  key: string;
  certFile: string;
  /** colon-separated hex, as X509Certificate.fingerprint256 */
  fingerprint: string;
}

export function fingerprintOf(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

type SubjectField = { name: string; value: string } | { shortName: string; value: string };

/**
 * The TLS identity of meta.flexfs and proxy.flexfs: the operator's --sslCert/--sslKey when given,
 * else a self-signed certificate kept in `folder` (cert.pem, key.pem 0600, the folder 0700), made
 * on first start for localhost, 127.0.0.1, ::1, the host name and `extraIps`, so clients can pin it
 * across restarts.
 */
export async function loadOrCreateTlsIdentity(opts: {
  folder: string; certFile?: string; keyFile?: string; subject: SubjectField[]; extraIps?: string[];
}): Promise<TlsIdentity> {
  if (opts.certFile || opts.keyFile) {
    if (!opts.certFile || !opts.keyFile) throw new Error('--sslCert and --sslKey must be given together');
    const [cert, key] = await Promise.all([readPem(opts.certFile, 'certificate'), readPem(opts.keyFile, 'key')]);
    return { cert, key, certFile: opts.certFile, fingerprint: fingerprintOf(cert) };
  }
  const certFile = join(opts.folder, 'cert.pem');
  const keyFile = join(opts.folder, 'key.pem');
  const [cert, key] = await Promise.all([readIfExists(certFile), readIfExists(keyFile)]);
  if (cert && key) return { cert, key, certFile, fingerprint: fingerprintOf(cert) };
  const host = hostname();
  const pems = await selfsigned.generate(opts.subject, {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 10 * 365 * 86400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [
        { type: 2, value: 'localhost' }, { type: 2, value: host }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' },
        ...(opts.extraIps ?? []).map((ip) => ({ type: 7 as const, ip })),
      ] },
    ],
  });
  await mkdir(opts.folder, { recursive: true, mode: 0o700 });
  await writeFile(keyFile, pems.private, { mode: 0o600 });
  await chmod(keyFile, 0o600); // a key.pem left from before keeps its mode through writeFile
  await writeFile(certFile, pems.cert, { mode: 0o644 });
  return { cert: pems.cert, key: pems.private, certFile, fingerprint: fingerprintOf(pems.cert) };
}

/** This host's non-loopback, non-link-local addresses (so clients may reach a daemon by IP with name checks on). */
export function localAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && !a.address.startsWith('fe80:')) out.push(a.address);
  }
  return out;
}

async function readIfExists(path: string): Promise<string | null> {
  try { return await readFile(path, 'utf8'); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot read TLS file ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

async function readPem(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `TLS ${what} file ${path} does not exist` : `cannot read TLS ${what} file ${path}: ${code ?? 'error'}`);
  }
}
