import type { Command } from 'commander';
import { mkdir } from 'node:fs/promises';
import { metaCredsPath, readCreds } from '../../config/creds.js';
import { openEngine, urlHasPassword } from '../../meta/engines/index.js';
import { isRedisEngineUrl } from '../../meta/engines/redis-url.js';
import { loadTls, startMetaServer } from '../../meta/server/index.js';
import { DEFAULT_META_PORT } from '../../meta/protocol/index.js';
import { DEFAULT_MAX_CONNECTIONS, parseMaxConnections } from '../../util/listener-limits.js';
import { defaultDbFolder, defaultTlsDir, fail } from './common.js';
import { META_SERVER_DEFAULTS } from '../../config/defaults.js';
import { addLogOptions, daemonLogger, type LogFlags } from '../shared/log-options.js';
import { checked, hostPortValue, wholeNumberValue } from '../shared/flag-values.js';

interface MetaStartFlags extends LogFlags {
  bindAddr: string; dbFolder?: string; engine: string; sync?: boolean; noSSL?: boolean; ssl?: boolean;
  sslCert?: string; sslKey?: string; credsFile?: string; verbose?: boolean; sessionTtl: string; maxConnections: string;
}

export function registerStart(program: Command): void {
  addLogOptions(program.command('start')
    .description('run the metadata server (HTTPS REST + WebSocket RPC on one port)')
    .option('--bindAddr <host:port>', 'listen address', checked(hostPortValue(false)), `0.0.0.0:${DEFAULT_META_PORT}`)
    .option('--dbFolder <dir>', 'folder of the sqlite database (default ~/.flexfs/meta/db)')
    .option('--engine <engine>', 'metadata engine: sqlite, redis://host:port[/db], redis+cluster://host:port[,host:port…] or redis+sentinel://host:port[,host:port…]/mastername[?db=N&minReplicas=N] (passwords: redisPassword, redisSentinelPassword in the creds file)', META_SERVER_DEFAULTS.engine)
    .option('--sync', 'fsync every metadata commit (sqlite synchronous=FULL)')
    .option('--noSSL', 'plain HTTP/WebSocket instead of TLS')
    .option('--sslCert <file>', 'PEM certificate (default: self-signed, made on first start)')
    .option('--sslKey <file>', 'PEM private key for --sslCert')
    .option('--credsFile <path>', 'creds file with adminToken, blockUser, blockPass, redisPassword, redisSentinelPassword (default ~/.flexfs/meta/creds)')
    .option('--sessionTtl <seconds>', 'session lifetime without heartbeats', checked(wholeNumberValue(1)), String(META_SERVER_DEFAULTS.sessionTtlSeconds))
    .option('--maxConnections <n>', 'concurrent connections accepted (mounts hold one each); more are closed at once', checked(wholeNumberValue(1)), String(DEFAULT_MAX_CONNECTIONS))
    .option('--verbose', 'debug logging'))
    .action((flags: MetaStartFlags) => runStart(flags).catch(fail));
}

async function runStart(flags: MetaStartFlags): Promise<void> {
  const log = daemonLogger('meta.flexfs', flags, !!flags.verbose);
  const credsPath = flags.credsFile ?? metaCredsPath();
  const creds = await readCreds(credsPath);
  const str = (k: string) => (typeof creds[k] === 'string' && creds[k] !== '' ? (creds[k] as string) : undefined);
  if (!str('adminToken')) log.warn({ credsFile: credsPath }, 'creds file has no adminToken: admin routes accept only admin tokens made with "token create"');
  const maxConnections = parseMaxConnections(flags.maxConnections);
  const ttl = Number(flags.sessionTtl);
  if (!Number.isFinite(ttl) || ttl < 1) throw new Error(`--sessionTtl "${flags.sessionTtl}" must be a number of seconds ≥ 1`);
  // commander turns --noSSL into ssl=false for "no" options
  const noSSL = flags.noSSL === true || flags.ssl === false;
  const tls = noSSL ? null : await loadTls({ dir: defaultTlsDir(), certFile: flags.sslCert, keyFile: flags.sslKey });
  const dbFolder = flags.dbFolder ?? defaultDbFolder();
  if (!isRedisEngineUrl(flags.engine)) await mkdir(dbFolder, { recursive: true, mode: 0o700 });
  if (urlHasPassword(flags.engine)) {
    throw new Error('--engine: the redis URL carries a password, which every user of this host can read in the process list; '
      + `drop it from the URL and put it in ${credsPath} as redisPassword (the Sentinels': redisSentinelPassword; meta.flexfs init creds reads them from stdin)`);
  }
  const engine = await openEngine({ engine: flags.engine, dbFolder, sync: flags.sync === true, redisPassword: str('redisPassword'), redisSentinelPassword: str('redisSentinelPassword') });
  const server = await startMetaServer({
    engine, bindAddr: flags.bindAddr, tls, adminToken: str('adminToken'), blockUser: str('blockUser'),
    blockPass: str('blockPass'), sessionTtlSeconds: ttl, logger: log, processMetrics: true, maxConnections,
  });
  if (tls) log.info({ fingerprint: tls.fingerprint }, 'clients pin this certificate fingerprint (or ~/.flexfs/meta/tls/cert.pem)');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    server.close().then(() => engine.close()).then(() => process.exit(0), (e) => { log.error({ err: String(e) }, 'stop failed'); process.exit(1); });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
