import { closeSync, fstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import { LOG_DEFAULTS } from '../config/defaults.js';
import { parseSize } from '../config/sizes.js';

/**
 * The daemons' log (mount.flexfs, meta.flexfs, proxy.flexfs): one pino logger whose records are
 * written as
 * - `text`: `2026-12-07T06:20:00.123Z INFO  mount.flexfs volume v mounted volume=v` (a terminal),
 * - `journal`: `<6>volume v mounted volume=v` — the sd-daemon priority prefix, no timestamp
 *   (journald stamps and ranks each line; picked when stderr is the journal, JOURNAL_STREAM),
 * - `json`: pino's JSON lines (`level` 10…60, `time` ms, `name`, `msg`, fields) for log shippers.
 * to stderr or to a file rotated by size (FILE → FILE.1 → … → FILE.keep, the oldest dropped).
 * Lines are written synchronously, as pino's own stderr destination does: a record is on disk
 * (or in the pipe) before the call returns, so a crash never loses the line that explains it.
 */
export type LogFormat = 'text' | 'json' | 'journal';
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json', 'journal'];

export interface LogSettings {
  /** Component name: the `name` of JSON records, the third column of text lines. */
  name: string;
  /** Undefined: journal when stderr is the journal, text on a terminal, else json. */
  format?: LogFormat;
  /** Append to this file (rotated) instead of stderr. */
  file?: string;
  maxBytes?: number;
  keep?: number;
  level?: 'debug' | 'info';
}

/** A text sink: takes whole lines (pino's write calls), sends them to stderr or a rotated file. */
interface LineSink { write(line: string): void }

export function createLogger(s: LogSettings): Logger {
  const dest: LineSink = s.file ? new RotatingFile(s.file, s.maxBytes ?? parseSize(LOG_DEFAULTS.maxSize), s.keep ?? LOG_DEFAULTS.keep) : new FdSink(2);
  const format = s.format ?? defaultFormat(!!s.file);
  const stream: LineSink = format === 'json' ? dest : { write: (line) => dest.write(formatRecord(line, format)) };
  return pino({ name: s.name, level: s.level ?? 'info' }, stream);
}

/** The format when none was asked for: a file gets JSON; stderr gets what its reader expects. */
export function defaultFormat(toFile: boolean): LogFormat {
  if (toFile) return 'json';
  if (stderrIsJournal()) return 'journal';
  return process.stderr.isTTY ? 'text' : 'json';
}

/** systemd sets JOURNAL_STREAM=dev:inode of the journal socket it gave as stdout/stderr. */
function stderrIsJournal(): boolean {
  const want = process.env.JOURNAL_STREAM;
  if (!want) return false;
  try {
    const st = fstatSync(2);
    return want === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** syslog priorities (sd-daemon(3)): err 3, warning 4, info 6, debug 7. */
const PRIORITIES: Record<number, number> = { 10: 7, 20: 7, 30: 6, 40: 4, 50: 3, 60: 2 };
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'v']);

/** One pino JSON line as a text or journal line (a line that is not JSON passes unchanged). */
export function formatRecord(line: string, format: 'text' | 'journal'): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = typeof rec.level === 'number' ? rec.level : 30;
  const fields = Object.entries(rec).filter(([k]) => !HIDDEN.has(k)).map(([k, v]) => `${k}=${fieldText(v)}`);
  const body = [String(rec.msg ?? ''), ...fields].join(' ');
  if (format === 'journal') return `<${PRIORITIES[level] ?? 6}>${body}\n`;
  const time = new Date(typeof rec.time === 'number' ? rec.time : Date.now()).toISOString();
  return `${time} ${(LEVEL_NAMES[level] ?? String(level)).padEnd(5)} ${String(rec.name ?? '')} ${body}\n`;
}

/** key=value text: bare when plain, JSON-quoted when it has spaces, quotes or is not a string. */
function fieldText(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

class FdSink implements LineSink {
  constructor(private readonly fd: number) {}
  write(line: string): void {
    try { writeSync(this.fd, line); } catch { /* stderr gone (EPIPE): nowhere left to say it */ }
  }
}

/**
 * Append lines to `path`; when the next line would take it past maxBytes, shift FILE.i to
 * FILE.i+1 (dropping FILE.keep), rename FILE to FILE.1 and start a new FILE. A line longer than
 * maxBytes still gets a file of its own.
 */
export class RotatingFile implements LineSink {
  private fd: number;
  private size: number;

  constructor(private readonly path: string, private readonly maxBytes: number, private readonly keep: number) {
    this.fd = openSync(path, 'a', LOG_DEFAULTS.fileMode);
    this.size = fstatSync(this.fd).size;
  }

  write(line: string): void {
    const bytes = Buffer.from(line);
    if (this.size > 0 && this.size + bytes.length > this.maxBytes) this.rotate();
    try {
      writeSync(this.fd, bytes);
      this.size += bytes.length;
    } catch {
      // disk full or the file's filesystem gone: a log line is not worth failing the daemon over
    }
  }

  private rotate(): void {
    closeSync(this.fd);
    rmSync(`${this.path}.${this.keep}`, { force: true });
    for (let i = this.keep - 1; i >= 1; i--) {
      try { renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`); } catch { /* not there yet */ }
    }
    try { renameSync(this.path, `${this.path}.1`); } catch { /* someone moved it: start afresh */ }
    this.fd = openSync(this.path, 'a', LOG_DEFAULTS.fileMode);
    this.size = fstatSync(this.fd).size;
  }
}
