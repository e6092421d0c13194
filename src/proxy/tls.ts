import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { loadOrCreateTlsIdentity, localAddresses } from '../util/tls-identity.js';

/**
 * The proxy's TLS identity: --sslCert/--sslKey when given, else a self-signed certificate kept in
 * `folder` (cert.pem, key.pem 0600), generated on first start for localhost, 127.0.0.1, ::1 and
 * the host name and addresses. Clients pin it by using cert.pem as their CA (see docs/PROXY.md).
 */
export async function loadOrCreateTls(opts: { certFile?: string; keyFile?: string; folder: string }): Promise<{ cert: string; key: string; certFile: string; fingerprint256: string }> {
  const id = await loadOrCreateTlsIdentity({
    ...opts,
    // A unique organizational unit: clients trusting several proxies' self-signed certs at once
    // (a CA bundle) need distinct subjects, or OpenSSL checks the wrong one.
    subject: [{ name: 'commonName', value: hostname() }, { name: 'organizationName', value: 'flexfs proxy' }, { shortName: 'OU', value: randomUUID() }],
    extraIps: localAddresses(),
  });
  return { cert: id.cert, key: id.key, certFile: id.certFile, fingerprint256: id.fingerprint };
}
