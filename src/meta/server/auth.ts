import { createHash, timingSafeEqual } from 'node:crypto';
import type { MetaEngine, TokenInfo } from '../engine.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/**
 * Token checks. The admin token from the server's creds file is compared as a hash in constant
 * time; volume and admin tokens made with `token create` live (hashed) in the engine.
 */
export class Authenticator {
  private readonly adminHash: Buffer | null;
  constructor(private readonly engine: MetaEngine, adminToken?: string) {
    this.adminHash = adminToken ? sha256(adminToken) : null;
  }

  isCredsAdmin(secret: string): boolean {
    return this.adminHash !== null && timingSafeEqual(sha256(secret), this.adminHash);
  }

  /** The token's info (admin tokens from the creds file have id "creds-admin"), or null. */
  async check(secret: string): Promise<TokenInfo | null> {
    if (!secret) return null;
    if (this.isCredsAdmin(secret)) return { id: 'creds-admin', admin: true, createdAt: 0, revoked: false };
    const info = await this.engine.checkToken(secret);
    return info && !info.revoked ? info : null;
  }

  async isAdmin(secret: string): Promise<boolean> {
    return (await this.check(secret))?.admin === true;
  }
}
