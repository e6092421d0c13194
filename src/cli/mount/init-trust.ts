import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Creds } from '../../config/creds.js';
import { TIMEOUTS } from '../../config/defaults.js';
import { parseMetaAddr } from '../../meta/client/address.js';
import { parseProxyList } from '../../proxy/group.js';
import { parseFingerprint, probeFingerprint } from '../../util/tls-trust.js';

/**
 * The TLS trust half of `mount.flexfs init creds`: which certificate the mount accepts from
 * meta.flexfs and from the proxies, written to the creds file as
 *   metaCA (path of the server's cert.pem) | metaFingerprint (SHA-256) | metaInsecure
 *   proxyCA | proxyFingerprint (comma-separated) | proxyInsecure | proxyNoSSL
 * A side without a flag keeps what the previous file pinned, so re-running `init creds` to change
 * the token keeps the pins.
 */
export interface TrustFlags {
  metaCA?: string;
  metaFingerprint?: string;
  trustOnFirstUse?: boolean;
  proxyCA?: string;
  proxyFingerprint?: string;
  proxyInsecure?: boolean;
  proxyNoSSL?: boolean;
  /** host:port,… of the proxies to pin by trust on first use. */
  proxyTrustOnFirstUse?: string;
}

const META_KEYS = ['metaCA', 'metaFingerprint', 'metaInsecure'] as const;
const PROXY_KEYS = ['proxyCA', 'proxyFingerprint', 'proxyInsecure', 'proxyNoSSL'] as const;

/** What was decided, for the operator: one line per pin made or kept. */
export interface TrustResult { creds: Creds; notes: string[] }

export async function resolveTrust(metaAddr: string, flags: TrustFlags, previous: Creds): Promise<TrustResult> {
  const notes: string[] = [];
  const creds: Creds = {};
  const meta = await metaTrust(metaAddr, flags, notes);
  if (meta) Object.assign(creds, meta);
  else keep(previous, META_KEYS, creds, notes, 'meta server');
  const proxy = await proxyTrust(flags, notes);
  if (proxy) Object.assign(creds, proxy);
  else keep(previous, PROXY_KEYS, creds, notes, 'proxies');
  return { creds, notes };
}

function keep(previous: Creds, keys: readonly string[], into: Creds, notes: string[], what: string): void {
  const kept = keys.filter((k) => previous[k] !== undefined && previous[k] !== '');
  for (const k of kept) into[k] = previous[k];
  if (kept.length) notes.push(`kept the ${what} pin (${kept.map((k) => `${k} = ${String(previous[k])}`).join(', ')})`);
}

function exclusive(given: [string, unknown][]): void {
  const set = given.filter(([, v]) => v !== undefined && v !== false).map(([k]) => k);
  if (set.length > 1) throw new Error(`${set.join(' and ')} exclude each other: give one`);
}

async function metaTrust(metaAddr: string, f: TrustFlags, notes: string[]): Promise<Creds | null> {
  exclusive([['--metaCA', f.metaCA], ['--metaFingerprint', f.metaFingerprint], ['--trustOnFirstUse', f.trustOnFirstUse]]);
  const addr = parseMetaAddr(metaAddr);
  const any = f.metaCA !== undefined || f.metaFingerprint !== undefined || f.trustOnFirstUse === true;
  if (!any) return null;
  if (!addr.secure) throw new Error(`--metaAddr ${metaAddr} is plain HTTP (a --noSSL server): there is no certificate to pin; drop --metaCA/--metaFingerprint/--trustOnFirstUse`);
  if (f.metaCA !== undefined) {
    const path = resolve(f.metaCA);
    const fp = await certFileFingerprint(path, '--metaCA');
    notes.push(`pinned the meta server certificate in ${path} (SHA-256 ${fp})`);
    return { metaCA: path };
  }
  if (f.metaFingerprint !== undefined) {
    const fp = parseFingerprint(f.metaFingerprint, '--metaFingerprint');
    notes.push(`pinned the meta server certificate SHA-256 ${fp}`);
    return { metaFingerprint: fp };
  }
  const fp = await firstUse(addr.host, addr.port, `meta server ${metaAddr}`);
  notes.push(`trust on first use: pinned the certificate meta server ${metaAddr} presented now, SHA-256 ${fp}; `
    + 'compare it with the fingerprint meta.flexfs prints (its start log, "meta.flexfs init creds"): from now on only this certificate is accepted');
  return { metaFingerprint: fp };
}

async function proxyTrust(f: TrustFlags, notes: string[]): Promise<Creds | null> {
  exclusive([['--proxyCA', f.proxyCA], ['--proxyFingerprint', f.proxyFingerprint], ['--proxyInsecure', f.proxyInsecure],
    ['--proxyTrustOnFirstUse', f.proxyTrustOnFirstUse], ['--proxyNoSSL', f.proxyNoSSL]]);
  if (f.proxyNoSSL) { notes.push('proxies: plain HTTP (--proxyNoSSL)'); return { proxyNoSSL: true }; }
  if (f.proxyInsecure) { notes.push('proxies: certificates NOT checked (--proxyInsecure; tests only)'); return { proxyInsecure: true }; }
  if (f.proxyCA !== undefined) {
    const path = resolve(f.proxyCA);
    await certFileFingerprint(path, '--proxyCA');
    notes.push(`pinned the proxies' certificates in ${path}`);
    return { proxyCA: path };
  }
  if (f.proxyFingerprint !== undefined) {
    const fps = f.proxyFingerprint.split(',').filter((s) => s.trim()).map((s) => parseFingerprint(s, '--proxyFingerprint'));
    if (!fps.length) throw new Error('--proxyFingerprint is empty: give one SHA-256 fingerprint per proxy, comma-separated');
    notes.push(`pinned ${fps.length} proxy certificate(s): ${fps.join(', ')}`);
    return { proxyFingerprint: fps.join(',') };
  }
  if (f.proxyTrustOnFirstUse !== undefined) {
    const fps: string[] = [];
    for (const p of parseProxyList(f.proxyTrustOnFirstUse)) {
      const { host, port } = hostPort(p);
      const fp = await firstUse(host, port, `proxy ${p}`);
      notes.push(`trust on first use: pinned the certificate proxy ${p} presented now, SHA-256 ${fp}`);
      if (!fps.includes(fp)) fps.push(fp);
    }
    if (!fps.length) throw new Error('--proxyTrustOnFirstUse needs the proxies: host:port[,host:port…]');
    return { proxyFingerprint: fps.join(',') };
  }
  return null;
}

function hostPort(p: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(p);
  if (!m) throw new Error(`proxy "${p}": expected host:port`);
  return { host: m[1], port: Number(m[2]) };
}

async function firstUse(host: string, port: number, what: string): Promise<string> {
  try {
    return await probeFingerprint(host, port, TIMEOUTS.rpcConnectMs);
  } catch (e) {
    throw new Error(`trust on first use: cannot read the certificate of ${what}: ${(e as Error).message}`);
  }
}

async function certFileFingerprint(path: string, flag: string): Promise<string> {
  let pem: string;
  try { pem = await readFile(path, 'utf8'); } catch (e) {
    throw new Error(`${flag} ${path} cannot be read: ${(e as NodeJS.ErrnoException).code ?? 'error'} (copy the server's cert.pem here)`);
  }
  try { return new X509Certificate(pem).fingerprint256; } catch {
    throw new Error(`${flag} ${path} is not a PEM certificate (expected the server's cert.pem)`);
  }
}
