import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, unlink } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip, createGzip } from 'node:zlib';
import { OPS_DEFAULTS } from '../config/defaults.js';
import { parseRecord, type DumpRecord } from './dump-format.js';

/** Bytes and lines of dumps: NDJSON out (gzip optional, file 0600 or stdout), records in (gzip detected). */

export interface DumpTarget {
  /** A file path, or "-" for stdout. */
  path: string;
  gzip: boolean;
}

/** Write the records as NDJSON to the target; a failed dump leaves no partial file behind. */
export async function writeDump(records: AsyncIterable<DumpRecord>, target: DumpTarget, onRecord?: (n: number) => void): Promise<number> {
  let n = 0;
  const lines = Readable.from((async function* () {
    for await (const r of records) {
      yield JSON.stringify(r) + '\n';
      onRecord?.(++n);
    }
  })(), { objectMode: false });
  const toStdout = target.path === '-';
  // stdout stays open after the dump (other output, and the process exit flushes it).
  const sink: Writable = toStdout ? new Writable({ write: (chunk, _enc, cb) => { process.stdout.write(chunk, cb); } })
    : createWriteStream(target.path, { mode: 0o600 });
  if (!toStdout) await chmod(target.path, 0o600).catch(() => undefined); // an existing file keeps its mode otherwise
  try {
    if (target.gzip) await pipeline(lines, createGzip(), sink);
    else await pipeline(lines, sink);
  } catch (e) {
    if (!toStdout) await unlink(target.path).catch(() => undefined);
    throw e;
  }
  return n;
}

/** The records of a dump file (or "-" for stdin), gunzipped when it starts with the gzip magic. */
export async function* readDump(path: string): AsyncGenerator<{ record: DumpRecord; line: number }> {
  const source: Readable = path === '-' ? process.stdin : createReadStream(path);
  let line = 0;
  for await (const text of lines(decompressed(source))) {
    line++;
    if (text.trim() === '') continue;
    yield { record: parseRecord(text, line), line };
  }
}

async function* decompressed(source: Readable): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await it.next();
  if (first.done) return;
  const all = (async function* () {
    yield first.value;
    for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
  })();
  if (first.value[0] !== 0x1f || first.value[1] !== 0x8b) { yield* all; return; }
  const gunzip = createGunzip();
  const feeding = pipeline(Readable.from(all), gunzip);
  try {
    for await (const chunk of gunzip) yield chunk as Buffer;
    await feeding;
  } catch (e) {
    feeding.catch(() => undefined);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'Z_BUF_ERROR' || /unexpected end/i.test((e as Error).message)) throw new Error('the gzip stream ends early: the dump was cut short');
    if (typeof code === 'string' && code.startsWith('Z_')) throw new Error(`the gzip stream is corrupt (${(e as Error).message})`);
    throw e;
  }
}

async function* lines(chunks: AsyncIterable<Buffer>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of chunks) {
    rest += decoder.write(chunk);
    let cut: number;
    while ((cut = rest.indexOf('\n')) >= 0) {
      yield rest.slice(0, cut);
      rest = rest.slice(cut + 1);
    }
  }
  rest += decoder.end();
  if (rest !== '') yield rest;
}

/**
 * Records done and their rate on stderr: a redrawn line on a TTY, or with `force` (--progress)
 * one line per second elsewhere; silent otherwise.
 */
export function rateProgress(verb: string, force: boolean, stream: NodeJS.WriteStream = process.stderr): { update(n: number): void; done(): void } {
  const tty = !!stream.isTTY;
  if (!tty && !force) return { update() {}, done() {} };
  const start = Date.now();
  const every = tty ? 100 : OPS_DEFAULTS.progressLineMs;
  let last = 0;
  let count = 0;
  const line = () => {
    const secs = Math.max((Date.now() - start) / 1000, 0.001);
    return `${verb} ${count} records (${Math.round(count / secs)}/s)`;
  };
  return {
    update(n) {
      count = n;
      const t = Date.now();
      if (t - last < every) return;
      last = t;
      stream.write(tty ? `\r${line()}\x1b[K` : `${line()}\n`);
    },
    done() {
      stream.write(tty ? `\r${line()}\x1b[K\n` : `${line()}\n`);
    },
  };
}
