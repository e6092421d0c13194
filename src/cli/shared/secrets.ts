import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';

/**
 * Secrets come from stdin or a TTY prompt, never from argv (argv is visible in ps and shell
 * history). Non-interactive stdin is read as `key=value` lines (or bare lines for passphrases).
 */

/** Read all of stdin as text (non-TTY). */
export async function readAllStdin(stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks).toString('utf8');
}

/** Parse `key=value` lines; blank lines and lines starting with # are skipped. Unknown keys are refused. */
export function parseKeyValues(text: string, allowed: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`stdin line ${i + 1}: expected key=value`);
    const key = line.slice(0, eq).trim();
    if (!allowed.includes(key)) throw new Error(`stdin line ${i + 1}: unknown key "${key}" (expected one of ${allowed.join(', ')})`);
    out[key] = line.slice(eq + 1).trim();
  });
  return out;
}

/** Prompt on the TTY without echoing what is typed. */
export async function promptHidden(question: string): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, _enc, cb) { if (!muted) process.stderr.write(chunk); cb(); },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  try {
    return await new Promise<string>((resolve) => {
      rl.question(question, (answer) => { process.stderr.write('\n'); resolve(answer); });
      muted = true;
    });
  } finally {
    rl.close();
  }
}

export const stdinIsTty = (): boolean => Boolean(process.stdin.isTTY);

/**
 * Read named secrets: prompt for each on a TTY (empty answer = not set), else parse stdin
 * `key=value` lines.
 */
export async function readSecrets(keys: string[], labels: Record<string, string> = {}): Promise<Record<string, string>> {
  if (!stdinIsTty()) return parseKeyValues(await readAllStdin(), keys);
  const out: Record<string, string> = {};
  for (const k of keys) {
    const v = await promptHidden(`${labels[k] ?? k}: `);
    if (v) out[k] = v;
  }
  return out;
}

/**
 * A passphrase typed twice on a TTY; from stdin, the first line (and the second, if present,
 * must repeat it).
 */
export async function readNewPassphrase(what = 'passphrase', minLength = 8): Promise<string> {
  let first: string;
  let second: string | undefined;
  if (stdinIsTty()) {
    first = await promptHidden(`Enter ${what}: `);
    second = await promptHidden(`Repeat ${what}: `);
  } else {
    const lines = (await readAllStdin()).split(/\r?\n/).filter((l) => l.length > 0);
    first = lines[0] ?? '';
    second = lines[1];
  }
  if (first.length < minLength) throw new Error(`${what} must be at least ${minLength} characters`);
  if (second !== undefined && second !== first) throw new Error(`the two ${what}s do not match`);
  return first;
}
