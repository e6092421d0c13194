import type { Command } from 'commander';
import { formatTable } from '../shared/table.js';
import { addAdminOptions, adminClient, fail, type AdminFlags } from './common.js';

export function registerToken(program: Command): void {
  const token = program.command('token').description('create, list and revoke access tokens');

  addAdminOptions(token.command('create').description('create a token; prints the secret once on stdout')
    .option('--volume <name>', 'volume the token mounts')
    .option('--admin', 'an admin token instead of a volume token')
    .option('--label <text>', 'free-form label'))
    .action((f: AdminFlags & { volume?: string; admin?: boolean; label?: string }) => (async () => {
      if (!f.volume && !f.admin) throw new Error('token create needs --volume <name> or --admin');
      const t = await (await adminClient(f)).createToken({ volume: f.volume, admin: f.admin, label: f.label });
      process.stderr.write(`token id ${t.id}; the secret below is shown only once\n`);
      process.stdout.write(`${t.secret}\n`);
    })().catch(fail));

  addAdminOptions(token.command('list').description('list tokens (never their secrets)').option('--json', 'JSON output'))
    .action((f: AdminFlags & { json?: boolean }) => (async () => {
      const tokens = await (await adminClient(f)).listTokens();
      if (f.json) { process.stdout.write(JSON.stringify(tokens, null, 2) + '\n'); return; }
      process.stdout.write(formatTable(['ID', 'VOLUME', 'ADMIN', 'LABEL', 'CREATED', 'REVOKED'],
        tokens.map((t) => [t.id, t.volumeId, t.admin, t.label, new Date(t.createdAt).toISOString(), t.revoked])));
    })().catch(fail));

  addAdminOptions(token.command('revoke <id>').description('revoke a token; the server closes the sessions using it at once'))
    .action((id: string, f: AdminFlags) => (async () => {
      await (await adminClient(f)).revokeToken(id);
      process.stdout.write(`revoked token ${id}\n`);
    })().catch(fail));
}
