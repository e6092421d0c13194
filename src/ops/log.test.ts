import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, formatRecord, RotatingFile } from './log.js';

describe('daemon log (src/ops/log.ts)', () => {
  const dirs: string[] = [];
  const tempDir = () => { const d = mkdtempSync(join(tmpdir(), 'flexfs-log-')); dirs.push(d); return d; };
  afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

  it('json: every line of the file parses, with level, time, name, msg and the fields', () => {
    const file = join(tempDir(), 'd.log');
    const log = createLogger({ name: 'meta.flexfs', format: 'json', file, level: 'debug' });
    log.info({ volume: 'v1', port: 9440 }, 'listening');
    log.warn('metadata connection lost');
    log.debug({ op: 'mkdir' }, 'rpc');
    const recs = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(recs.map((r) => [r.level, r.msg, r.name])).toEqual([[30, 'listening', 'meta.flexfs'], [40, 'metadata connection lost', 'meta.flexfs'], [20, 'rpc', 'meta.flexfs']]);
    expect(recs[0]).toMatchObject({ volume: 'v1', port: 9440 });
    expect(typeof recs[0].time).toBe('number');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('text: time level component msg key=value; journal: a syslog priority prefix and no time', () => {
    const line = JSON.stringify({ level: 40, time: Date.UTC(2026, 11, 7, 6, 0, 0), name: 'mount.flexfs', pid: 1, hostname: 'h', msg: 'bucket outage', store: 's3://b', why: 'connect refused', n: 3 }) + '\n';
    expect(formatRecord(line, 'text')).toBe('2026-12-07T06:00:00.000Z WARN  mount.flexfs bucket outage store=s3://b why="connect refused" n=3\n');
    expect(formatRecord(line, 'journal')).toBe('<4>bucket outage store=s3://b why="connect refused" n=3\n');
    expect(formatRecord(JSON.stringify({ level: 50, msg: 'x' }), 'journal')).toBe('<3>x\n');
    expect(formatRecord(JSON.stringify({ level: 30, msg: 'x' }), 'journal')).toBe('<6>x\n');
    const file = join(tempDir(), 't.log');
    createLogger({ name: 'proxy.flexfs', format: 'text', file }).info({ addr: '127.0.0.1:1' }, 'proxy.flexfs listening');
    expect(readFileSync(file, 'utf8')).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z INFO  proxy\.flexfs proxy\.flexfs listening addr=127\.0\.0\.1:1\n$/);
  });

  it('rotates when the next line would pass the size, and keeps the newest N rotated files', () => {
    const dir = tempDir();
    const file = join(dir, 'r.log');
    const sink = new RotatingFile(file, 100, 2);
    const line = (i: number) => `${String(i).padStart(3, '0')} ${'x'.repeat(35)}\n`; // 40 bytes
    for (let i = 0; i < 2; i++) sink.write(line(i));
    expect(readdirSync(dir)).toEqual(['r.log']); // 80 bytes: no rotation yet
    sink.write(line(2)); // 120 > 100: r.log → r.log.1
    expect(readdirSync(dir).sort()).toEqual(['r.log', 'r.log.1']);
    expect(readFileSync(`${file}.1`, 'utf8')).toBe(line(0) + line(1));
    expect(readFileSync(file, 'utf8')).toBe(line(2));
    for (let i = 3; i < 10; i++) sink.write(line(i));
    // 10 lines, two per file: r.log holds 8–9, r.log.1 6–7, r.log.2 4–5; older ones are gone.
    expect(readdirSync(dir).sort()).toEqual(['r.log', 'r.log.1', 'r.log.2']);
    expect(readFileSync(file, 'utf8')).toBe(line(8) + line(9));
    expect(readFileSync(`${file}.1`, 'utf8')).toBe(line(6) + line(7));
    expect(readFileSync(`${file}.2`, 'utf8')).toBe(line(4) + line(5));
    for (const f of readdirSync(dir)) expect(statSync(join(dir, f)).size).toBeLessThanOrEqual(100);
  });

  it('a reopened file keeps counting from its size', () => {
    const file = join(tempDir(), 'a.log');
    new RotatingFile(file, 100, 1).write('y'.repeat(90) + '\n');
    new RotatingFile(file, 100, 1).write('z'.repeat(20) + '\n');
    expect(readFileSync(`${file}.1`, 'utf8')).toBe('y'.repeat(90) + '\n');
    expect(readFileSync(file, 'utf8')).toBe('z'.repeat(20) + '\n');
  });
});
