import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { SessionInfo, TokenInfo, TokenSpec, VolumeReport, VolumeSpec, VolumeUpdate } from '../engine.js';
import type { VolumeSettings } from '../types.js';
import type { QuotaLimits, QuotaReport } from '../core/quota-admin.js';
import { parseMetaAddr, type MetaAddress } from './address.js';
import { resolveTls, type MetaTlsOptions, type ResolvedTls } from './tls.js';
import { isUntrustedCertError } from '../../util/tls-trust.js';

export class AdminError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message); this.name = 'AdminError'; }
}

/** REST client for meta.flexfs admin routes (used by the CLI). */
export class AdminClient {
  private readonly addr: MetaAddress;
  private resolved: ResolvedTls | null = null;

  constructor(addr: string, private readonly token: string, private readonly tlsOpts?: MetaTlsOptions, private readonly timeoutMs = 30_000) {
    this.addr = parseMetaAddr(addr);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    // resolved at first use: the certificate file may appear only once the server has started
    const tls = this.resolved ??= await resolveTls(this.addr.secure ? this.tlsOpts : undefined);
    if (tls.pin) throw new Error('admin calls need the server certificate (--ca) or --insecure, not a fingerprint');
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const url = new URL(path, this.addr.httpBase);
    const send = this.addr.secure ? httpsRequest : httpRequest;
    return new Promise<T>((resolve, reject) => {
      const req = send(url, {
        method,
        timeout: this.timeoutMs,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
        },
        ...(this.addr.secure ? {
          rejectUnauthorized: tls.rejectUnauthorized,
          ...(tls.ca ? { ca: tls.ca } : {}),
          ...(tls.checkServerIdentity ? { checkServerIdentity: tls.checkServerIdentity } : {}),
        } : {}),
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
          if ((res.statusCode ?? 500) >= 400) {
            const err = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
            reject(new AdminError(res.statusCode ?? 500, err?.code ?? 'EIO', err?.message ?? `HTTP ${res.statusCode}`));
          } else resolve(json as T);
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`meta server ${this.addr.httpBase} did not answer within ${this.timeoutMs} ms`)));
      req.on('error', (e) => reject(new Error(isUntrustedCertError(e)
        ? `meta server ${this.addr.httpBase} presented a certificate this host does not trust (${e.message}): pass --ca with a copy of the server's cert.pem (meta/tls/cert.pem under its FLEXFS_HOME), or set FLEXFS_HOME to the server's state folder on its host`
        : `cannot reach meta server ${this.addr.httpBase}: ${e.message}`)));
      req.end(payload);
    });
  }

  createVolume(spec: VolumeSpec): Promise<VolumeSettings> { return this.request('POST', '/v1/volumes', spec); }
  listVolumes(): Promise<VolumeSettings[]> { return this.request('GET', '/v1/volumes'); }
  getVolume(name: string): Promise<VolumeSettings> { return this.request('GET', `/v1/volumes/${encodeURIComponent(name)}`); }
  /** Settings, limits and usage. */
  volumeReport(name: string): Promise<VolumeReport> { return this.request('GET', `/v1/volumes/${encodeURIComponent(name)}?details=1`); }
  /** Change what may change on an existing volume; the volume as it is after the change. */
  updateVolume(name: string, update: VolumeUpdate): Promise<VolumeReport> {
    return this.request('PATCH', `/v1/volumes/${encodeURIComponent(name)}`, update);
  }
  deleteVolume(name: string, force = false): Promise<{ deleted: string }> {
    return this.request('DELETE', `/v1/volumes/${encodeURIComponent(name)}${force ? '?force=1' : ''}`);
  }
  /** `subdir` is a path in the volume (the server resolves it); `expiresAt` ms since the epoch. */
  createToken(spec: Omit<TokenSpec, 'subdirIno'>): Promise<{ id: string; secret: string }> {
    return this.request('POST', '/v1/tokens', spec);
  }
  listTokens(): Promise<TokenInfo[]> { return this.request('GET', '/v1/tokens'); }
  revokeToken(id: string): Promise<{ revoked: string }> { return this.request('DELETE', `/v1/tokens/${encodeURIComponent(id)}`); }
  /** Directory quotas (core/quota-admin.ts): set (a limit left out stays), one, all, delete. */
  setQuota(volume: string, path: string, limits: QuotaLimits): Promise<QuotaReport> {
    return this.request('PUT', `/v1/volumes/${encodeURIComponent(volume)}/quotas`, { path, ...limits });
  }
  getQuota(volume: string, path: string): Promise<QuotaReport> {
    return this.request('GET', `/v1/volumes/${encodeURIComponent(volume)}/quotas?path=${encodeURIComponent(path)}`);
  }
  listQuotas(volume: string): Promise<QuotaReport[]> {
    return this.request('GET', `/v1/volumes/${encodeURIComponent(volume)}/quotas`);
  }
  deleteQuota(volume: string, path: string): Promise<{ deleted: string }> {
    return this.request('DELETE', `/v1/volumes/${encodeURIComponent(volume)}/quotas?path=${encodeURIComponent(path)}`);
  }
  listSessions(volume?: string): Promise<SessionInfo[]> {
    return this.request('GET', `/v1/sessions${volume ? `?volume=${encodeURIComponent(volume)}` : ''}`);
  }
}
