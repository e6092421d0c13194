/**
 * `proxy.flexfs start --noSSL` as a child process for tests that need a plain-HTTP proxy in front
 * of any store (test/proxy/harness.ts starts TLS proxies): its creds file is written 0600 by
 * writeCreds, /health is polled until it answers, and /metrics is read as a map.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import { writeCreds } from '../../src/config/creds.js';
import { freePort, waitFor } from '../harness/ports.js';
import { REPO } from './harness.js';

export const PROXY_ENTRY = 'dist/src/cli/proxy/index.js';

export interface PlainProxy {
  addr: string;
  port: number;
  logs(): string;
  /** The proxy's counters, `name{labels}` → value (missing series read as 0). */
  metrics(): Promise<(series: string) => number>;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

export async function startPlainProxy(o: {
  home: string; store: string; token: string; args?: string[];
  creds?: Record<string, string>;
}): Promise<PlainProxy> {
  const port = await freePort();
  const credsFile = join(o.home, 'proxy', 'creds');
  await writeCreds(credsFile, { token: o.token, ...o.creds });
  const child = spawn(process.execPath, [join(REPO, PROXY_ENTRY), 'start', '--store', o.store, '--noSSL',
    '--bindAddr', `127.0.0.1:${port}`, '--diskFolder', join(o.home, 'cache'), '--diskQuota', '256M', '--credsFile', credsFile,
    ...(o.args ?? [])], { env: { ...process.env, FLEXFS_HOME: o.home }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let logs = '';
  child.stdout!.on('data', (d) => { logs += d; });
  child.stderr!.on('data', (d) => { logs += d; });
  const exited = new Promise<void>((r) => child.once('exit', () => { children.delete(child); r(); }));
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`proxy exited with ${child.exitCode}: ${logs.slice(-2000)}`);
      return (await httpGet(port, '/health').catch(() => ({ status: 0 }))).status === 200;
    }, 30_000, `proxy on port ${port}`, 100);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    addr: `127.0.0.1:${port}`, port, logs: () => logs,
    async metrics() {
      const out = new Map<string, number>();
      for (const line of (await httpGet(port, '/metrics')).body.split('\n')) {
        if (!line || line.startsWith('#')) continue;
        const i = line.lastIndexOf(' ');
        out.set(line.slice(0, i), Number(line.slice(i + 1)));
      }
      return (series) => out.get(series) ?? 0;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

export function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
  });
}
