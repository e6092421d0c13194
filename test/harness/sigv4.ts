/**
 * Re-sign an S3 request (AWS SigV4) after a test forwarder removed one of its signed headers,
 * e.g. `x-amz-server-side-encryption`: the real server then checks a valid signature over what it
 * really received. The original request's signed-header list, credential scope, date and payload
 * hash (x-amz-content-sha256) are kept; only the removed headers leave the list.
 */
import { createHash, createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export interface SigningKeys {
  accessKey: string;
  secretKey: string;
}

const sha256Hex = (s: string) => createHash('sha256').update(s).digest('hex');
const hmac = (key: Buffer | string, s: string) => createHmac('sha256', key).update(s).digest();

/** Headers as the server will see them, with `authorization` recomputed; throws on a request that is not SigV4. */
export function resignWithout(method: string, url: string, headers: IncomingHttpHeaders, drop: string[], keys: SigningKeys): IncomingHttpHeaders {
  const auth = String(headers.authorization ?? '');
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=[0-9a-f]+$/.exec(auth);
  if (!m) throw new Error('not a SigV4 header-signed request');
  const [, , date, region, service, signedList] = m;
  const gone = new Set(drop.map((h) => h.toLowerCase()));
  const out: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (!gone.has(k)) out[k] = v;
  const signed = signedList.split(';').filter((h) => !gone.has(h));
  const [path, query = ''] = url.split(/\?(.*)/s, 2);
  const canonicalQuery = query === '' ? '' : query.split('&').map((p) => (p.includes('=') ? p : `${p}=`)).sort().join('&');
  const canonicalHeaders = signed.map((h) => `${h}:${String(out[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const payloadHash = String(out['x-amz-content-sha256'] ?? 'UNSIGNED-PAYLOAD');
  const canonical = [method, path, canonicalQuery, canonicalHeaders, signed.join(';'), payloadHash].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', String(out['x-amz-date']), scope, sha256Hex(canonical)].join('\n');
  const kSigning = hmac(hmac(hmac(hmac(`AWS4${keys.secretKey}`, date), region), service), 'aws4_request');
  const signature = createHmac('sha256', kSigning).update(toSign).digest('hex');
  out.authorization = `AWS4-HMAC-SHA256 Credential=${keys.accessKey}/${scope}, SignedHeaders=${signed.join(';')}, Signature=${signature}`;
  return out;
}
