import { describe, expect, it } from 'vitest';
import { createServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import selfsigned from 'selfsigned';
import { fingerprintOf } from './tls-identity.js';
import { isUntrustedCertError, normalizeFingerprint, parseFingerprint, probeFingerprint } from './tls-trust.js';

const UPPER = `${'AB:'.repeat(31)}AB`;

describe('fingerprints', () => {
  it('accept openssl\'s form, no colons, lower case and a sha256 prefix; all normalize to one form', () => {
    for (const text of [UPPER, UPPER.toLowerCase(), 'ab'.repeat(32), `sha256=${UPPER}`, `SHA256:${UPPER}`, `  ${UPPER}\n`]) {
      expect(normalizeFingerprint(text), text).toBe(UPPER);
    }
  });

  it('refuse what is not 32 hex bytes, naming the flag and the expected form', () => {
    for (const bad of ['AB:CD', 'ab'.repeat(31), 'ab'.repeat(33), `${UPPER}:`, 'zz'.repeat(32), '']) expect(normalizeFingerprint(bad), bad).toBeNull();
    expect(() => parseFingerprint('AB:CD', '--metaFingerprint')).toThrow(/--metaFingerprint "AB:CD" is not a SHA-256 fingerprint: expected 32 hex bytes/);
  });
});

describe('probeFingerprint', () => {
  it('reads a live server\'s leaf certificate without trusting it; a self-signed refusal counts as untrusted', async () => {
    const pems = await selfsigned.generate([{ name: 'commonName', value: 'probe' }], { keyType: 'ec' });
    const server = createServer({ cert: pems.cert, key: pems.private }, (s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      expect(await probeFingerprint('127.0.0.1', port, 10_000)).toBe(fingerprintOf(pems.cert));
      const { connect } = await import('node:tls');
      const refused = await new Promise<Error>((resolve) => {
        const s = connect({ host: '127.0.0.1', port }, () => resolve(new Error('trusted?')));
        s.once('error', resolve);
      });
      expect(isUntrustedCertError(refused)).toBe(true);
      expect(isUntrustedCertError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(false);
    } finally {
      await new Promise((r) => server.close(r));
    }
    // nothing listens there now: the network error, not a fingerprint
    await expect(probeFingerprint('127.0.0.1', port, 10_000)).rejects.toThrow(/ECONNREFUSED/);
  });
});
