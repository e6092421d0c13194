import { execFile } from 'node:child_process';
import { access, readFile, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { mountCredsPath, readCreds, writeCreds, type Creds } from '../../config/creds.js';
import { parseMetaAddr } from '../../meta/client/address.js';
import { readSecrets } from '../shared/secrets.js';
import { resolveTrust, type TrustFlags } from './init-trust.js';

/** fstab to edit; FLEXFS_FSTAB overrides (tests). */
export function fstabPath(): string { return process.env.FLEXFS_FSTAB || '/etc/fstab'; }

/**
 * `init creds <volume>`: metaAddr and the TLS pins from flags (init-trust.ts), token, secret and
 * proxyToken from stdin or a TTY prompt. Pins of the previous file survive a re-run without TLS flags.
 */
export async function initCreds(volume: string, opts: { metaAddr?: string; credsFile?: string } & TrustFlags): Promise<void> {
  if (!opts.metaAddr) throw new Error('--metaAddr is required (host:port of meta.flexfs)');
  const path = opts.credsFile ? resolve(opts.credsFile) : mountCredsPath(volume);
  const previous: Creds = await access(path).then(() => readCreds(path, { allowOpenMode: true }), () => ({})); // rewritten 0600 below
  const had = (k: string) => typeof previous[k] === 'string' && previous[k] !== '';
  const empty = (k: string, what: string) => (had(k) ? 'empty: keep the current one' : what);
  const s = await readSecrets(SECRET_KEYS, {
    token: `volume token (${empty('token', 'required')})`, secret: `E2E passphrase (${empty('secret', 'empty: none')})`,
    proxyToken: `proxy token (${empty('proxyToken', 'empty: no proxies')})`,
  });
  // A re-run that gives no secret keeps the previous file's (say, to change only the pins).
  const kept = SECRET_KEYS.filter((k) => !s[k] && had(k));
  for (const k of kept) s[k] = previous[k] as string;
  if (!s.token) throw new Error('no token given (on stdin: token=..., or at the prompt)');
  const trust = await resolveTrust(opts.metaAddr, opts, previous);
  const creds: Creds = { metaAddr: opts.metaAddr, token: s.token, ...trust.creds };
  if (s.secret) creds.secret = s.secret;
  if (s.proxyToken) creds.proxyToken = s.proxyToken;
  await writeCreds(path, creds);
  if (kept.length) console.log(`kept ${kept.join(', ')} from the previous ${path}`);
  for (const note of trust.notes) console.log(note);
  if (parseMetaAddr(opts.metaAddr).secure && !META_PINS.some((k) => creds[k] !== undefined)) {
    console.log('no meta server pin: the server certificate must be signed by a CA this host trusts '
      + '(for meta.flexfs\'s self-signed one, add --metaFingerprint, --metaCA or --trustOnFirstUse)');
  }
  console.log(`wrote ${path}`);
}

const META_PINS = ['metaCA', 'metaFingerprint', 'metaInsecure'];
const SECRET_KEYS = ['token', 'secret', 'proxyToken'];

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
