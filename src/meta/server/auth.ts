import { createHash, timingSafeEqual } from 'node:crypto';
import type { MetaEngine, TokenInfo } from '../engine.js';
import { tokenExpired } from '../token-scope.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/**
 * Token checks. The admin token from the server's creds file is compared as a hash in constant
 * time; volume and admin tokens made with `token create` live (hashed) in the engine.
 */
export class Authenticator {
  private readonly adminHash: Buffer | null;
  private epochValue = 0;
  private readonly listeners: Array<() => void> = [];
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
    return info && !info.revoked && !tokenExpired(info) ? info : null;
  }

  /**
   * Bumped whenever something this server did may have taken access away (a token revoked, a
   * volume deleted, sessions expired): sessions compare it on every call, so they re-check at
   * once instead of at their next periodic check.
   */
  get epoch(): number { return this.epochValue; }

  /** Run `fn` after each invalidate() (the server sweeps its open sessions then). */
  onInvalidate(fn: () => void): void { this.listeners.push(fn); }

  invalidate(): void {
    this.epochValue++;
    for (const fn of this.listeners) fn();
  }

  async revoke(tokenId: string): Promise<void> {
    await this.engine.revokeToken(tokenId);
    this.invalidate();
  }

  /**
   * Like check, but says why a token is refused: 'expired' (past its --expires time) or
   * 'invalid' (unknown or revoked), so a mount can tell its operator which.
   */
  async verdict(secret: string): Promise<{ token: TokenInfo } | { refused: 'expired' | 'invalid'; expiresAt?: number }> {
    if (!secret) return { refused: 'invalid' };
    if (this.isCredsAdmin(secret)) return { token: { id: 'creds-admin', admin: true, createdAt: 0, revoked: false } };
    const info = await this.engine.checkToken(secret, { includeExpired: true });
    if (!info || info.revoked) return { refused: 'invalid' };
    if (tokenExpired(info)) return { refused: 'expired', expiresAt: info.expiresAt };
    return { token: info };
  }

  async isAdmin(secret: string): Promise<boolean> {
    return (await this.check(secret))?.admin === true;
  }
}
