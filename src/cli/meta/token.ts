import type { Command } from 'commander';
import { parseIdPair } from '../../config/identity.js';
import type { TokenInfo } from '../../meta/engine.js';
import { formatTable } from '../shared/table.js';
import { checked, expiryValue, idPairValue, parseExpiry, UsageError } from '../shared/flag-values.js';
import { addAdminOptions, adminClient, fail, type AdminFlags } from './common.js';

interface CreateFlags extends AdminFlags {
  volume?: string; admin?: boolean; label?: string;
  readOnly?: boolean; subdir?: string; expires?: string; rootSquash?: string; allSquash?: string;
}

/** A token's scope in one column of `token list`: ro, subdir=/a, squash, expiry. */
export function scopeText(t: TokenInfo): string {
  const parts: string[] = [];
  if (t.readOnly) parts.push('ro');
  if (t.subdir) parts.push(`subdir=${t.subdir}`);
  if (t.rootSquash) parts.push(`rootSquash=${t.rootSquash.uid}:${t.rootSquash.gid}`);
  if (t.allSquash) parts.push(`allSquash=${t.allSquash.uid}:${t.allSquash.gid}`);
  return parts.join(',') || '-';
}

export function registerToken(program: Command): void {
  const token = program.command('token').description('create, list and revoke access tokens');

  addAdminOptions(token.command('create').description('create a token; prints the secret once on stdout')
    .option('--volume <name>', 'volume the token mounts')
    .option('--admin', 'an admin token instead of a volume token')
    .option('--label <text>', 'free-form label')
    .option('--readOnly', 'every change through the token is refused (EROFS)')
    .option('--subdir <path>', 'mount only this directory of the volume, as the root (default: the whole volume)')
    .option('--expires <when>', 'the token stops working then: a duration (30d, 12h) or a time (2027-01-01T00:00:00Z) (default: never)', checked(expiryValue))
    .option('--rootSquash <uid:gid>', 'callers with uid 0 act as uid:gid (enforced by the server)', checked(idPairValue))
    .option('--allSquash <uid:gid>', 'every caller acts as uid:gid (enforced by the server)', checked(idPairValue)))
    .action((f: CreateFlags) => (async () => {
      if (!f.volume && !f.admin) throw new UsageError('token create needs --volume <name> or --admin');
      if (f.rootSquash && f.allSquash) throw new UsageError('--rootSquash and --allSquash: give one of them');
      if (f.admin && (f.readOnly || f.subdir || f.rootSquash || f.allSquash)) {
        throw new UsageError('--readOnly, --subdir, --rootSquash and --allSquash apply to volume tokens (--volume), not --admin');
      }
      if (f.subdir !== undefined && !f.subdir.startsWith('/')) throw new UsageError(`--subdir "${f.subdir}": give an absolute path in the volume, like /projects/a`);
      const t = await (await adminClient(f)).createToken({
        volume: f.volume, admin: f.admin, label: f.label,
        readOnly: f.readOnly || undefined, subdir: f.subdir,
        expiresAt: f.expires !== undefined ? parseExpiry(f.expires) : undefined,
        rootSquash: f.rootSquash !== undefined ? parseIdPair(f.rootSquash) : undefined,
        allSquash: f.allSquash !== undefined ? parseIdPair(f.allSquash) : undefined,
      });
      process.stderr.write(`token id ${t.id}; the secret below is shown only once\n`);
      process.stdout.write(`${t.secret}\n`);
    })().catch(fail));

  addAdminOptions(token.command('list').description('list tokens (never their secrets)').option('--json', 'JSON output'))
    .action((f: AdminFlags & { json?: boolean }) => (async () => {
      const tokens = await (await adminClient(f)).listTokens();
      if (f.json) { process.stdout.write(JSON.stringify(tokens, null, 2) + '\n'); return; }
      process.stdout.write(formatTable(['ID', 'VOLUME', 'ADMIN', 'LABEL', 'SCOPE', 'CREATED', 'EXPIRES', 'REVOKED'],
        tokens.map((t) => [t.id, t.volumeId, t.admin, t.label, scopeText(t), new Date(t.createdAt).toISOString(),
          t.expiresAt !== undefined ? new Date(t.expiresAt).toISOString() : '-', t.revoked])));
    })().catch(fail));

  addAdminOptions(token.command('revoke <id>').description('revoke a token; the server closes the sessions using it at once'))
    .action((id: string, f: AdminFlags) => (async () => {
      await (await adminClient(f)).revokeToken(id);
      process.stdout.write(`revoked token ${id}\n`);
    })().catch(fail));
}
