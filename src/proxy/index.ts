/**
 * proxy/: the caching block proxy (server side, run by `proxy.flexfs start`) and the proxy-group
 * ObjectStore mount clients put in front of the bucket (client side). docs/PROXY.md explains both.
 */
import { readFile } from 'node:fs/promises';
import type { ObjectStore } from '../store/types.js';
import { ProxyGroupStore, parseProxyList, type ProxyGroupOptions } from './group.js';

export { ProxyGroupStore, parseProxyList, type ProxyGroupOptions, type ProxyGroupStats } from './group.js';
export { createProxyServer, type ProxyServer, type ProxyServerOptions, type ProxyLogger } from './server.js';
export { rendezvousOrder } from './rendezvous.js';
export { validateBlockKey, keyFromPath, pathForKey, BadKeyError } from './keys.js';
export { loadOrCreateTls } from './tls.js';

/**
 * What a mount needs to talk to its proxies, normally from its credentials file
 * (~/.flexfs/mount/creds/<volume>): `proxyToken` (required), and for TLS one of `proxyCA` (path
 * of a PEM file holding the proxies' certificates), `proxyFingerprint` (comma-separated SHA-256
 * fingerprints) or `proxyInsecure = true`; `proxyNoSSL = true` for proxies started with --noSSL.
 */
export interface ProxyClientCreds {
  proxyToken?: unknown;
  proxyCA?: unknown;
  proxyFingerprint?: unknown;
  proxyInsecure?: unknown;
  proxyNoSSL?: unknown;
}

/**
 * The mount client's block store when proxies are configured (`--proxy host:port,…` or the
 * volume's `proxies` setting): the proxy group in front of `direct` (the bucket store from
 * openStore, which stays the fallback). `credsFile` only names the file in error messages.
 */
export async function openProxyGroup(opts: {
  proxies: string | string[];
  direct: ObjectStore;
  creds: ProxyClientCreds;
  credsFile?: string;
  coolDownMs?: number;
  timeoutMs?: number;
  /** Ask for SSE-S3 on every PUT through the proxies (the mount's or volume's sse). */
  sse?: boolean;
  onProxyEvent?: ProxyGroupOptions['onProxyEvent'];
}): Promise<ProxyGroupStore> {
  const where = opts.credsFile ? ` in ${opts.credsFile}` : '';
  const proxies = parseProxyList(opts.proxies);
  const token = typeof opts.creds.proxyToken === 'string' && opts.creds.proxyToken ? opts.creds.proxyToken : process.env.FLEXFS_PROXY_TOKEN;
  if (!token) throw new Error(`proxies are configured but there is no "proxyToken"${where}`);
  const tls: ProxyGroupOptions['tls'] = {};
  if (typeof opts.creds.proxyCA === 'string' && opts.creds.proxyCA) {
    try {
      tls.ca = await readFile(opts.creds.proxyCA, 'utf8');
    } catch (e) {
      throw new Error(`cannot read proxyCA file ${opts.creds.proxyCA}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  if (typeof opts.creds.proxyFingerprint === 'string' && opts.creds.proxyFingerprint) tls.fingerprint256 = opts.creds.proxyFingerprint;
  if (opts.creds.proxyInsecure === true) tls.insecure = true;
  return new ProxyGroupStore({
    proxies, token, direct: opts.direct, tls, noSSL: opts.creds.proxyNoSSL === true,
    coolDownMs: opts.coolDownMs, timeoutMs: opts.timeoutMs, sse: opts.sse, onProxyEvent: opts.onProxyEvent,
  });
}
