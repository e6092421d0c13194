import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { flexfsHome, metaCredsPath, readCreds, requireField } from '../../config/creds.js';
import { AdminClient } from '../../meta/client/index.js';
import { DEFAULT_META_PORT } from '../../meta/protocol/index.js';
import { exitWithError } from '../shared/flag-values.js';
import { META_SERVER_DEFAULTS } from '../../config/defaults.js';

export interface AdminFlags {
  addr?: string;
  credsFile?: string;
  ca?: string;
  insecure?: boolean;
}

/** Where `start` keeps its self-signed certificate (clients on this host pin it by default). */
export function defaultTlsDir(): string { return join(flexfsHome(), 'meta', 'tls'); }
export function defaultDbFolder(): string { return join(flexfsHome(), META_SERVER_DEFAULTS.dbSubfolder); }
export const DEFAULT_ADMIN_ADDR = `127.0.0.1:${DEFAULT_META_PORT}`;
/** The admin commands' server: FLEXFS_META_ADDR when set (like VAULT_ADDR), else this host. */
export function adminAddr(): string { return process.env.FLEXFS_META_ADDR || DEFAULT_ADMIN_ADDR; }

/**
 * Admin REST client from CLI flags: admin token from the creds file; the server certificate is
 * pinned from --ca, else from this host's ~/.flexfs/meta/tls/cert.pem when present, else the
 * system CAs; --insecure skips verification.
 */
export async function adminClient(flags: AdminFlags): Promise<AdminClient> {
  const path = flags.credsFile ?? metaCredsPath();
  const token = requireField(await readCreds(path), 'adminToken', path);
  let ca = flags.ca;
  if (!ca && !flags.insecure) {
    const local = join(defaultTlsDir(), 'cert.pem');
    if (await access(local).then(() => true, () => false)) ca = local;
  }
  return new AdminClient(flags.addr ?? adminAddr(), token, { ca, insecure: flags.insecure });
}

export function addAdminOptions<T extends { option(flags: string, desc: string, def?: string): T }>(cmd: T): T {
  return cmd
    .option('--addr <host:port>', `meta server address (http://… for --noSSL servers; default $FLEXFS_META_ADDR, else ${DEFAULT_ADMIN_ADDR})`)
    .option('--credsFile <path>', 'server creds file holding adminToken (default ~/.flexfs/meta/creds)')
    .option('--ca <pem-file>', 'pin this server certificate (default: this host\'s ~/.flexfs/meta/tls/cert.pem)')
    .option('--insecure', 'do not verify the server certificate');
}

/** Print an error for the operator and exit: 2 for a usage error, else 1. */
export function fail(e: unknown): never {
  exitWithError('meta.flexfs', e);
}
