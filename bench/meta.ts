/**
 * Metadata benchmark: ops/s for create, lookup, getattr and readdir, on the sqlite engine
 * in-process and through meta.flexfs (a child process, TLS, one WebSocket session) with 1 and 32
 * calls in flight. Prints a markdown table. Run: `npm run build && node dist/bench/meta.js [N]`.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { writeCreds } from '../src/config/creds.js';
import { openSqliteEngine } from '../src/meta/engines/sqlite.js';
import { AdminClient, connectMeta } from '../src/meta/client/index.js';
import { ROOT_INO, type MetaStore } from '../src/meta/types.js';

const N = Number(process.argv[2] ?? 2000);
const ctx = { uid: 0, gid: 0 };
const here = dirname(fileURLToPath(import.meta.url));

async function pool(n: number, conc: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: conc }, async () => { while (next < n) await fn(next++); }));
  return n / ((performance.now() - t0) / 1000);
}

type Row = Record<'create' | 'lookup' | 'getattr' | 'readdir (entries/s)', number>;

async function measure(store: MetaStore, conc: number, tag: string): Promise<Row> {
  const dir = (await store.mkdir(ROOT_INO, `bench-${tag}`, 0o40755, ctx)).ino;
  const inos: number[] = new Array(N);
  const create = await pool(N, conc, async (i) => { inos[i] = (await store.create(dir, `f${i}`, 0o100644, ctx)).ino; });
  const lookup = await pool(N, conc, (i) => store.lookup(dir, `f${i}`, ctx));
  const getattr = await pool(N, conc, (i) => store.getattr(inos[i], ctx));
  const t0 = performance.now();
  let entries = 0;
  const rounds = 5;
  for (let r = 0; r < rounds; r++) {
    let cursor: string | undefined;
    do {
      const page = await store.readdir(dir, ctx, cursor, 1000);
      entries += page.entries.length;
      cursor = page.next;
    } while (cursor);
  }
  const readdir = entries / ((performance.now() - t0) / 1000);
  return { create, lookup, getattr, 'readdir (entries/s)': readdir };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  });
}

async function main(): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'flexfs-bench-meta-'));
  const results: Array<[string, Row]> = [];
  try {
    const engine = await openSqliteEngine({ file: join(tmp, 'inproc.db') });
    const vol = await engine.createVolume({ name: 'bench', blockStore: { url: 'file:///tmp/unused' } });
    results.push(['sqlite in-process', await measure(engine.volume(vol.id), 1, 'inproc')]);
    await engine.close();

    const home = join(tmp, 'home');
    const adminToken = 'bench-admin-token-0123456789';
    await writeCreds(join(home, 'meta', 'creds'), { adminToken });
    const port = await freePort();
    const main = join(here, '..', 'src', 'cli', 'meta', 'main.js');
    const child = spawn(process.execPath, [main, 'start', '--bindAddr', `127.0.0.1:${port}`, '--dbFolder', join(tmp, 'db')],
      { env: { ...process.env, FLEXFS_HOME: home }, stdio: 'ignore' });
    try {
      const admin = new AdminClient(`127.0.0.1:${port}`, adminToken, { ca: join(home, 'meta', 'tls', 'cert.pem') });
      const deadline = Date.now() + 30_000;
      for (;;) {
        try { await admin.listVolumes(); break; } catch (e) {
          if (Date.now() > deadline) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      await admin.createVolume({ name: 'bench', blockStore: { url: 'file:///tmp/unused' } });
      const { secret } = await admin.createToken({ volume: 'bench' });
      const session = await connectMeta({ addr: `127.0.0.1:${port}`, token: secret, tls: { ca: join(home, 'meta', 'tls', 'cert.pem') } });
      results.push(['meta.flexfs, 1 in flight', await measure(session.store, 1, 'c1')]);
      results.push(['meta.flexfs, 32 in flight', await measure(session.store, 32, 'c32')]);
      await session.close();
    } finally {
      child.kill('SIGTERM');
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const cols = Object.keys(results[0][1]) as Array<keyof Row>;
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const lines = [
    `meta benchmark: ${N} files, sqlite engine (synchronous=NORMAL), Node ${process.version}`,
    '',
    `| setup | ${cols.join(' | ')} |`,
    `|---|${cols.map(() => '---:').join('|')}|`,
    ...results.map(([name, r]) => `| ${name} | ${cols.map((c) => fmt(r[c])).join(' | ')} |`),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((e) => { process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`); process.exit(1); });
