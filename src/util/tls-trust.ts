import { connect } from 'node:tls';

/**
 * The client side of trusting a flexfs daemon's certificate (meta.flexfs, proxy.flexfs): pins are
 * SHA-256 fingerprints of the server's leaf certificate, as `openssl x509 -fingerprint -sha256`
 * prints them (colon-separated upper-case hex); this module normalizes them, reads a live
 * server's fingerprint (trust on first use, and for error messages) and says which flag fixes an
 * untrusted certificate.
 */

const FP = /^(?:sha256[:/=]?\s*)?((?:[0-9a-f]{2}:?){32})$/i;

/** `ab:cd…`, `ABCD…`, `sha256=AB:CD…` → `AB:CD:…`; null when it is not 32 hex bytes. */
export function normalizeFingerprint(text: string): string | null {
  const m = FP.exec(text.trim());
  if (!m || m[1].endsWith(':')) return null;
  const hex = m[1].replace(/:/g, '').toUpperCase();
  return hex.match(/../g)!.join(':');
}

/** Like normalizeFingerprint, but an error naming `what` (a flag or creds key) when it is not one. */
export function parseFingerprint(text: string, what: string): string {
  const fp = normalizeFingerprint(text);
  if (!fp) throw new Error(`${what} "${text}" is not a SHA-256 fingerprint: expected 32 hex bytes, e.g. AB:CD:…:EF (as "openssl x509 -noout -fingerprint -sha256" prints it)`);
  return fp;
}

/**
 * Node's codes for a certificate chain it cannot verify: self-signed, unknown issuer, or (with a
 * pinned CA) a certificate other than the pinned one.
 */
/** The code of the error a pinned-certificate check raises (meta/client/tls.ts). */
export const NOT_PINNED = 'FLEXFS_CERT_NOT_PINNED';

const UNTRUSTED_CODES = new Set([NOT_PINNED,
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export function isUntrustedCertError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && UNTRUSTED_CODES.has(code);
}

/**
 * Connect once without verifying, read the server's leaf certificate fingerprint, disconnect.
 * Nothing is sent but the TLS handshake. Rejects with the network error (refused, timeout…).
 */
export function probeFingerprint(host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, rejectUnauthorized: false, servername: isIp(host) ? undefined : host });
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no TLS handshake from ${host}:${port} within ${timeoutMs} ms`)); }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const fp = socket.getPeerCertificate()?.fingerprint256;
      socket.destroy();
      if (fp) resolve(fp);
      else reject(new Error(`${host}:${port} presented no certificate`));
    });
    socket.once('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

function isIp(host: string): boolean { return /^[0-9.]+$/.test(host) || host.includes(':'); }

/**
 * The error text for a server certificate this client does not trust. `seen` is the server's
 * fingerprint (undefined when it could not be read), `expected` the pin that did not match (if
 * any), `fix` the command that pins it, given a fingerprint (`--metaFingerprint F` style), and
 * `alternatives` the other flags that also fix it.
 */
export function untrustedCertMessage(o: {
  server: string; seen?: string; expected?: string; fix: (fingerprint: string) => string; alternatives: string;
}): string {
  const fp = o.seen ?? 'AB:CD:…';
  if (o.expected) {
    return `${o.server} presented a certificate with SHA-256 fingerprint ${o.seen ?? '(unreadable)'}, not the pinned ${o.expected}. `
      + 'If the server\'s certificate was replaced on purpose (compare the fingerprint with the one the server prints), '
      + `re-pin it: ${o.fix(fp)} (${o.alternatives}); otherwise something else answers at that address.`;
  }
  return `${o.server} presented a certificate this host does not trust (self-signed or from an unknown CA)`
    + `${o.seen ? `; its SHA-256 fingerprint is ${o.seen}` : ''}. Compare it with the one the server prints, then pin it: `
    + `${o.fix(fp)} (${o.alternatives}).`;
}
