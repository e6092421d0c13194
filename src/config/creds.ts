import { mkdir, writeFile, chmod } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'smol-toml';
import { OpenModeError, readPrivateFile } from './private-file.js';

/**
 * Credentials files: TOML, mode 0600, under ~/.flexfs/ (DESIGN §7):
 *   meta/creds            adminToken, blockUser, blockPass, …
 *   proxy/creds           blockUser, blockPass, token
 *   mount/creds/<volume>  metaAddr, token, secret (E2E passphrase)
 * Values are secrets: never log them or put them in error messages.
 */
export type Creds = Record<string, string | number | boolean | string[]>;

export function flexfsHome(): string {
  return process.env.FLEXFS_HOME || join(homedir(), '.flexfs');
}

export function metaCredsPath(): string { return join(flexfsHome(), 'meta', 'creds'); }
export function proxyCredsPath(): string { return join(flexfsHome(), 'proxy', 'creds'); }
export function mountCredsPath(volume: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(volume)) throw new Error(`invalid volume name "${volume}"`);
  return join(flexfsHome(), 'mount', 'creds', volume);
}

/**
 * Read a credentials file. Errors name the file and the problem, never its contents. A file that
 * group or others may read or write is refused (every daemon and admin command reads creds here);
 * `allowOpenMode` is only for `init creds`, which rewrites the file 0600.
 */
export async function readCreds(path: string, opts: { allowOpenMode?: boolean } = {}): Promise<Creds> {
  let text: string;
  try {
    text = await readPrivateFile(path, 'credentials file', opts);
  } catch (e) {
    if (e instanceof OpenModeError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`credentials file ${path} does not exist (create it with "init creds")`);
    if (code === 'EACCES') throw new Error(`credentials file ${path} is not readable by this user`);
    throw new Error(`cannot read credentials file ${path}: ${code ?? 'error'}`);
  }
  try {
    return parse(text) as Creds;
  } catch {
    throw new Error(`credentials file ${path} is not valid TOML`);
  }
}

/** Write a credentials file with mode 0600 (its folder 0700), replacing any previous one. */
export async function writeCreds(path: string, creds: Creds): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const clean: Creds = {};
  for (const [k, v] of Object.entries(creds)) if (v !== undefined && v !== '') clean[k] = v;
  await writeFile(path, stringify(clean) + '\n', { mode: 0o600 });
  await chmod(path, 0o600);
}

/** A required string field, with an error naming the file and the field (not the value). */
export function requireField(creds: Creds, field: string, path: string): string {
  const v = creds[field];
  if (typeof v !== 'string' || v === '') throw new Error(`credentials file ${path} has no "${field}"`);
  return v;
}
