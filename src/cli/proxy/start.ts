import type { Command } from 'commander';
import { mkdir, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createCodec } from '../../codec/index.js';
import { readCreds, requireField } from '../../config/creds.js';
import { parseSize, formatSize } from '../../config/sizes.js';
import type { BlockStoreSettings } from '../../meta/types.js';
import { DiskFrameCache, hashedLayout } from '../../cache/disk.js';
import { createProxyServer } from '../../proxy/server.js';
import { loadOrCreateTls } from '../../proxy/tls.js';
import { openStore, parseSseMode } from '../../store/index.js';
import { parseMaxConnections } from '../../util/listener-limits.js';
import { exitWithError } from '../shared/flag-values.js';
import { daemonLogger } from '../shared/log-options.js';
import { addStartOptions, DEFAULT_PORT, type ProxyStartFlags } from './options.js';

export function registerStart(program: Command): void {
  addStartOptions(program.command('start').description('run the caching block proxy'))
    .action(async (flags: ProxyStartFlags) => {
      try {
        await startProxy(flags);
      } catch (e) {
        exitWithError('proxy.flexfs', e);
      }
    });
}

export function parseBindAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:]*)):(\d{1,5})$/.exec(addr) ?? /^()()(\d{1,5})$/.exec(addr);
  if (!m) throw new Error(`--bindAddr "${addr}" is not host:port`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`--bindAddr "${addr}": port out of range`);
  return { host: m[1] || m[2] || '0.0.0.0', port: Number.isFinite(port) ? port : DEFAULT_PORT };
}

async function startProxy(flags: ProxyStartFlags): Promise<void> {
  const log = daemonLogger('proxy.flexfs', flags, !!flags.verbose);
  const sse = parseSseMode(flags.sse, '--sse');
  const { host, port } = parseBindAddr(flags.bindAddr);
  const maxConnections = parseMaxConnections(flags.maxConnections);
  const getLimits = {
    maxGets: wholeNumber('--maxGets', flags.maxGets, 1),
    maxFetches: wholeNumber('--maxFetches', flags.maxFetches, 1),
    maxQueued: wholeNumber('--maxQueuedGets', flags.maxQueuedGets, 0),
  };
  const putLimits = {
    maxPuts: wholeNumber('--maxPuts', flags.maxPuts, 1),
    maxQueued: wholeNumber('--maxQueuedPuts', flags.maxQueuedPuts, 0),
  };

  const creds = await readCreds(flags.credsFile);
  const token = requireField(creds, 'token', flags.credsFile);
  const blockPass = typeof creds.blockPass === 'string' ? creds.blockPass : '';
  const blockUser = typeof creds.blockUser === 'string' ? creds.blockUser : '';

  await mkdir(flags.diskFolder, { recursive: true, mode: 0o700 });
  const fsStat = await statfs(flags.diskFolder);
  const quotaBytes = parseSize(flags.diskQuota, fsStat.blocks * fsStat.bsize);
  const cache = await DiskFrameCache.open(flags.diskFolder, quotaBytes, { layout: hashedLayout });

  const settings: BlockStoreSettings = {
    url: flags.store,
    endpoint: flags.endpoint,
    region: flags.region,
    pathStyle: flags.pathStyle,
    sse: sse !== 'off',
    credentials: blockPass ? 'static' : 'ambient',
    blockUser: blockUser || undefined,
    blockPass: blockPass || undefined,
  };
  const upstream = openStore(settings);
  // Stored frames are verified without the data key (E2E volumes stay ciphertext here).
  const codec = createCodec({ compression: 'lz4', workers: 0 });

  const tls = flags.noSSL ? null : await loadOrCreateTls({ certFile: flags.sslCert, keyFile: flags.sslKey, folder: dirname(flags.credsFile) });
  const server = createProxyServer({
    upstream, cache, token, tls, log,
    verify: (key, frame) => codec.verify(key, frame),
    prefix: flags.keyPrefix, sse: sse === 'require' ? 'require' : sse === 'on', maxConnections, getLimits, putLimits,
  });
  const addr = await server.listen(host, port);
  log.info({
    addr: `${addr.address}:${addr.port}`, tls: !!tls, certFile: tls?.certFile, fingerprint256: tls?.fingerprint256,
    store: upstream.description, sse, diskFolder: flags.diskFolder,
    quota: formatSize(quotaBytes), cached: formatSize(cache.bytes), cachedObjects: cache.count,
  }, 'proxy.flexfs listening');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    await server.close(5000);
    await Promise.allSettled([upstream.close(), codec.close()]);
    log.flush?.();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/** A count flag: undefined keeps the default; anything but a whole number ≥ min is refused, naming the flag. */
function wholeNumber(flag: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`${flag} "${value}": expected a whole number ≥ ${min}`);
  return n;
}
