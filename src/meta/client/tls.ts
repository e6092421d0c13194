import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { NOT_PINNED, normalizeFingerprint, parseFingerprint } from '../../util/tls-trust.js';

export { normalizeFingerprint };

/**
 * How a client trusts the server's certificate (meta.flexfs makes a self-signed one):
 *  - `ca`: the server's certificate (PEM text or a path to cert.pem) — pinned: the connection is
 *    accepted only when the server presents exactly that certificate (any host name);
 *  - `fingerprint`: its SHA-256 fingerprint (`AB:CD:…`, as `meta.flexfs start` logs it), also
 *    pinned; the token is sent only after the check;
 *  - `insecure`: accept any certificate (tests, first contact);
 *  - nothing: the system CAs (a server started with a real --sslCert).
 */
export interface MetaTlsOptions {
  ca?: string;
  fingerprint?: string;
  insecure?: boolean;
}

export interface ResolvedTls {
  ca?: string;
  rejectUnauthorized: boolean;
  checkServerIdentity?: (host: string, cert: PeerCertificate) => Error | undefined;
  /** Fingerprint to check on the live socket before any secret is sent. */
  pin?: string;
  /** The pinned certificate's fingerprint (a pin or a pinned CA), for error messages. */
  expected?: string;
}

export async function resolveTls(opts: MetaTlsOptions | undefined): Promise<ResolvedTls> {
  if (!opts || (!opts.ca && !opts.fingerprint && !opts.insecure)) return { rejectUnauthorized: true };
  if (opts.insecure) return { rejectUnauthorized: false };
  if (opts.fingerprint || (opts.ca && normalizeFingerprint(opts.ca))) {
    const fp = parseFingerprint(opts.fingerprint ?? opts.ca!, 'TLS fingerprint');
    return { rejectUnauthorized: false, pin: fp, expected: fp };
  }
  let pem = opts.ca!;
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    try { pem = await readFile(pem, 'utf8'); } catch {
      throw new Error(`CA/certificate file ${opts.ca} cannot be read`);
    }
  }
  let expected: string;
  try { expected = new X509Certificate(pem).fingerprint256; } catch {
    throw new Error('CA/certificate is not a valid PEM certificate');
  }
  return {
    ca: pem,
    rejectUnauthorized: true,
    expected,
    // Pinning replaces the host-name check: the exact certificate proves the server.
    checkServerIdentity: (_host, cert) =>
      cert.fingerprint256 === expected ? undefined : Object.assign(new Error('server certificate does not match the pinned certificate'), { code: NOT_PINNED }),
  };
}
