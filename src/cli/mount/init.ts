import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { mountCredsPath, writeCreds, type Creds } from '../../config/creds.js';
import { readSecrets } from '../shared/secrets.js';

/** fstab to edit; FLEXFS_FSTAB overrides (tests). */
export function fstabPath(): string { return process.env.FLEXFS_FSTAB || '/etc/fstab'; }

/** Non-secret proxy settings of `init creds` (the proxy token itself comes from stdin). */
export interface InitProxyFlags {
  proxyCA?: string;
  proxyFingerprint?: string;
  proxyInsecure?: boolean;
  proxyNoSSL?: boolean;
}

/** `init creds <volume>`: metaAddr from a flag, token, secret and proxyToken from stdin or a TTY prompt. */
export async function initCreds(volume: string, opts: { metaAddr?: string; credsFile?: string } & InitProxyFlags): Promise<void> {
  if (!opts.metaAddr) throw new Error('--metaAddr is required (host:port of meta.flexfs)');
  const path = opts.credsFile ? resolve(opts.credsFile) : mountCredsPath(volume);
  const s = await readSecrets(['token', 'secret', 'proxyToken'],
    { token: 'volume token', secret: 'E2E passphrase (empty: none)', proxyToken: 'proxy token (empty: no proxies)' });
  if (!s.token) throw new Error('no token given (on stdin: token=..., or at the prompt)');
  const creds: Creds = { metaAddr: opts.metaAddr, token: s.token };
  if (s.secret) creds.secret = s.secret;
  if (s.proxyToken) creds.proxyToken = s.proxyToken;
  if (opts.proxyCA) creds.proxyCA = resolve(opts.proxyCA);
  if (opts.proxyFingerprint) creds.proxyFingerprint = opts.proxyFingerprint;
  if (opts.proxyInsecure) creds.proxyInsecure = true;
  if (opts.proxyNoSSL) creds.proxyNoSSL = true;
  await writeCreds(path, creds);
  console.log(`wrote ${path}`);
}

export async function deinitCreds(volume: string, opts: { credsFile?: string }): Promise<void> {
  const path = opts.credsFile ? resolve(opts.credsFile) : mountCredsPath(volume);
  await rm(path, { force: true });
  console.log(`removed ${path}`);
}

function fstabLines(text: string, mountpoint: string): { keep: string[]; found: boolean } {
  const keep: string[] = [];
  let found = false;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (!line.trim().startsWith('#') && f.length >= 3 && f[1] === mountpoint && f[2] === 'flexfs') { found = true; continue; }
    keep.push(line);
  }
  while (keep.length && keep[keep.length - 1] === '') keep.pop();
  return { keep, found };
}

/** `init fstab <volume> <mountpoint>`: add `vol /mnt flexfs _netdev,nofail[,opts] 0 0`. */
export async function initFstab(volume: string, mountpointArg: string, opts: { mountOptions?: string; now?: boolean; force?: boolean }): Promise<void> {
  const mountpoint = resolve(mountpointArg);
  const path = fstabPath();
  const text = await readFile(path, 'utf8').catch(() => '');
  const { keep, found } = fstabLines(text, mountpoint);
  if (found && !opts.force) throw new Error(`${path} already has a flexfs line for ${mountpoint} (use --force to replace it)`);
  const options = ['_netdev', 'nofail', ...(opts.mountOptions ? opts.mountOptions.split(',').filter(Boolean) : [])].join(',');
  keep.push(`${volume} ${mountpoint} flexfs ${options} 0 0`);
  await writeFile(path, keep.join('\n') + '\n');
  console.log(`${found ? 'replaced' : 'added'} ${volume} ${mountpoint} in ${path}`);
  if (opts.now) {
    // `-T` names the fstab just edited (FLEXFS_FSTAB may point elsewhere than /etc/fstab).
    await new Promise<void>((ok, fail) => execFile('mount', ['-T', path, mountpoint], { timeout: 300_000 },
      (err, _o, stderr) => (err ? fail(new Error(`mount ${mountpoint} failed: ${stderr.trim() || err.message}`)) : ok())));
    console.log(`mounted ${mountpoint}`);
  }
}

export async function deinitFstab(mountpointArg: string): Promise<void> {
  const mountpoint = resolve(mountpointArg);
  const path = fstabPath();
  const { keep, found } = fstabLines(await readFile(path, 'utf8').catch(() => ''), mountpoint);
  if (!found) throw new Error(`${path} has no flexfs line for ${mountpoint}`);
  await writeFile(path, keep.join('\n') + '\n');
  console.log(`removed ${mountpoint} from ${path}`);
}
