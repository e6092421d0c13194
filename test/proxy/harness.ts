/**
 * Test helpers for proxy.flexfs: build check, real proxy daemons as child processes, a capture
 * proxy (a recording HTTP forwarder in front of the real RGW), and small HTTPS request helpers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureBuilt as ensureBuiltOutputs, REPO_ROOT } from '../harness/build.js';
import { freePort, waitFor } from '../harness/ports.js';
import { runCommand, type CommandResult } from '../harness/run-command.js';

/** The repository root (also right when compiled under dist/ for bench/proxy.ts). */
export const REPO = REPO_ROOT;
const ENTRY = join(REPO, 'dist/src/cli/proxy/index.js');

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** The proxy runs from the compiled output; compile first when dist/ is missing or stale. */
export function ensureBuilt(): Promise<void> {
  return ensureBuiltOutputs([ENTRY]);
}

/** Run the proxy CLI to completion (stdin piped in); resolves with exit code and output. */
export function runCli(args: string[], opts: { env?: Record<string, string>; stdin?: string } = {}): Promise<CommandResult> {
  return runCommand(process.execPath, [ENTRY, ...args], { ...opts, timeoutMs: 30_000 });
}

export interface ProxyStartOptions {
  home: string;
  diskFolder: string;
  store: string;
  endpoint?: string;
  region?: string;
  quota: string;
  sse?: boolean;
  keyPrefix?: string;
  port?: number;
  /** More `start` flags, e.g. ['--sslCert', f, '--sslKey', k]. */
  args?: string[];
  /** The certificate the proxy serves (default: the self-signed one in `home`/proxy/cert.pem). */
  certFile?: string;
}

export interface ProxyProc {
  addr: string;
  port: number;
  certPem: string;
  /** The daemon's process id (benchmarks read its peak RSS). */
  pid: number;
  opts: ProxyStartOptions;
  logs(): string;
  /** SIGTERM and wait for exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
  kill9(): Promise<void>;
  alive(): boolean;
}

/** Start `proxy.flexfs start` as a child and wait until /health answers. */
export async function startProxyProcess(opts: ProxyStartOptions): Promise<ProxyProc> {
  const port = opts.port ?? (await freePort());
  const args = ['start', '--store', opts.store, '--bindAddr', `127.0.0.1:${port}`, '--diskFolder', opts.diskFolder,
    '--diskQuota', opts.quota, '--pathStyle', '--verbose'];
  if (opts.endpoint) args.push('--endpoint', opts.endpoint);
  if (opts.region) args.push('--region', opts.region);
  if (opts.sse) args.push('--sse');
  if (opts.keyPrefix) args.push('--keyPrefix', opts.keyPrefix);
  args.push(...(opts.args ?? []));
  const child = spawn(process.execPath, [ENTRY, ...args], {
    env: { ...process.env, FLEXFS_HOME: opts.home, AWS_SDK_JS_SUPPRESS_NODE_DEPRECATION_WARNING: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let logs = '';
  child.stdout!.on('data', (d) => { logs += d; });
  child.stderr!.on('data', (d) => { logs += d; });
  const exited = new Promise<void>((r) => child.once('exit', () => { children.delete(child); r(); }));
  const certFile = opts.certFile ?? join(opts.home, 'proxy', 'cert.pem');
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`proxy exited with ${child.exitCode}: ${logs.slice(-2000)}`);
      const res = await request({ port, insecure: true }, 'GET', '/health');
      return res.status === 200;
    }, 30_000, `proxy on port ${port}`, 100);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  const certPem = await readFile(certFile, 'utf8');
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    addr: `127.0.0.1:${port}`, port, certPem, opts, pid: child.pid!,
    logs: () => logs,
    alive,
    async stop() {
      if (!alive()) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
    async kill9() {
      if (!alive()) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export interface Captured {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  status?: number;
}

/**
 * A recording forwarder in front of the real S3 server: every request is passed on unchanged
 * (headers included, so SigV4 signatures stay valid) and its method, path and headers recorded.
 */
export interface CaptureProxy {
  endpoint: string;
  requests: Captured[];
  /** Optional delay (ms) before forwarding a request (fault injection: a slow bucket). */
  delay?: (method: string, url: string) => number;
  close(): Promise<void>;
}

export async function startCaptureProxy(target: string): Promise<CaptureProxy> {
  const t = new URL(target);
  const requests: Captured[] = [];
  const server = http.createServer(async (req, res) => {
    const rec: Captured = { method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers } };
    requests.push(rec);
    const wait = capture.delay?.(rec.method, rec.url) ?? 0;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (upRes) => {
      rec.status = upRes.statusCode;
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => { res.destroy(); });
    req.pipe(up);
  });
  server.keepAliveTimeout = 65_000;
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const capture: CaptureProxy = {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }),
  };
  return capture;
}

export interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One HTTPS request to a proxy; `path` is sent as is (no normalisation). */
export function request(to: { port: number; ca?: string; insecure?: boolean }, method: string, path: string,
  opts: { token?: string; body?: Buffer; headers?: Record<string, string> } = {}): Promise<Res> {
  return new Promise((resolveReq, reject) => {
    const headers: Record<string, string | number> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body) headers['content-length'] = opts.body.length;
    const req = https.request({ host: '127.0.0.1', port: to.port, method, path, headers, ca: to.ca, rejectUnauthorized: !to.insecure, agent: false, timeout: 20_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolveReq({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Prometheus text → map of `name{labels}` → value. */
export async function metricsOf(p: ProxyProc): Promise<Map<string, number>> {
  const res = await request({ port: p.port, ca: p.certPem }, 'GET', '/metrics');
  const out = new Map<string, number>();
  for (const line of res.body.toString().split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** Where the proxy's disk cache keeps a key. */
export function cacheFileOf(diskFolder: string, key: string): string {
  const h = createHash('sha256').update(key).digest('hex');
  return join(diskFolder, 'blocks', h.slice(0, 2), h);
}

/** All files under a folder, recursively. */
export async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name));
}
