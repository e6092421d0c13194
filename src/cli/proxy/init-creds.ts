import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { proxyCredsPath, writeCreds, type Creds } from '../../config/creds.js';

/**
 * `init creds`: writes ~/.flexfs/proxy/creds (0600) with blockUser, blockPass, token. Secrets come
 * from stdin, never argv: on a terminal each is prompted for (without echo); from a pipe, stdin is
 * read as `name=value` lines. An empty token is replaced by a random one, printed once so it can
 * be handed to the mount clients.
 */
export function registerInitCreds(init: Command): void {
  init.command('creds')
    .description('write the proxy credentials file (blockUser, blockPass, token) from stdin')
    .option('--credsFile <file>', 'where to write', proxyCredsPath())
    .option('--blockUser <id>', 'bucket access key id (not secret; may also come from stdin)')
    .action(async (flags: { credsFile: string; blockUser?: string }) => {
      try {
        const values = process.stdin.isTTY ? await prompt(['blockUser', 'blockPass', 'token'], flags.blockUser) : parseLines(await readAll());
        const creds: Creds = {};
        const blockUser = flags.blockUser ?? values.blockUser ?? '';
        if (blockUser) creds.blockUser = blockUser;
        if (values.blockPass) creds.blockPass = values.blockPass;
        let generated = false;
        creds.token = values.token || (generated = true, randomBytes(32).toString('base64url'));
        await writeCreds(flags.credsFile, creds);
        process.stdout.write(`wrote ${flags.credsFile}\n`);
        if (generated) process.stdout.write(`generated proxy token (give it to mount clients): ${creds.token}\n`);
        if (!creds.blockPass) process.stdout.write('no blockPass: the bucket is reached with the instance role / default AWS credential chain\n');
      } catch (e) {
        process.stderr.write(`proxy.flexfs: ${(e as Error).message}\n`);
        process.exit(1);
      }
    });
}

const FIELDS = new Set(['blockUser', 'blockPass', 'token']);

export function parseLines(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) throw new Error(`stdin line ${i + 1}: expected name=value`);
    const name = line.slice(0, eq).trim();
    if (!FIELDS.has(name)) throw new Error(`stdin line ${i + 1}: unknown field "${name}" (expected blockUser, blockPass or token)`);
    out[name] = line.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return out;
}

async function readAll(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function prompt(fields: string[], blockUser?: string): Promise<Record<string, string>> {
  let muted = false;
  const out = new Writable({ write(chunk, _enc, cb) { if (!muted) process.stdout.write(chunk); cb(); } });
  const rl = createInterface({ input: process.stdin, output: out, terminal: true });
  const ask = (q: string, secret: boolean) => new Promise<string>((resolve) => {
    rl.question(q, (a) => { muted = false; if (secret) process.stdout.write('\n'); resolve(a.trim()); });
    muted = secret;
  });
  const values: Record<string, string> = {};
  try {
    for (const f of fields) {
      if (f === 'blockUser' && blockUser !== undefined) continue;
      const hint = f === 'token' ? ' (empty: generate one)' : f === 'blockPass' ? ' (empty: use the instance role)' : '';
      values[f] = await ask(`${f}${hint}: `, f !== 'blockUser');
    }
  } finally {
    rl.close();
  }
  return values;
}
