import { loadOrCreateTlsIdentity, fingerprintOf } from '../../util/tls-identity.js';

export { fingerprintOf };

export interface TlsMaterial {
  cert: string;
  key: string;
  /** SHA-256 fingerprint of the certificate, colon-separated hex (what clients pin). */
  fingerprint: string;
}

/**
 * The server's certificate: the operator's (--sslCert/--sslKey), or a self-signed one made on
 * first start and kept in `dir` (cert.pem, key.pem 0600) so clients can pin it across restarts.
 */
export async function loadTls(opts: { dir: string; certFile?: string; keyFile?: string }): Promise<TlsMaterial> {
  const { cert, key, fingerprint } = await loadOrCreateTlsIdentity({
    folder: opts.dir, certFile: opts.certFile, keyFile: opts.keyFile,
    subject: [{ name: 'commonName', value: 'meta.flexfs' }],
  });
  return { cert, key, fingerprint };
}
