import { Command, Option } from 'commander';
import { sseOption } from '../shared/sse-option.js';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { flexfsHome, proxyCredsPath } from '../../config/creds.js';
import { DEFAULT_MAX_CONNECTIONS } from '../../util/listener-limits.js';
import { GET_LIMIT_DEFAULTS } from '../../proxy/get-limits.js';
import { PUT_LIMIT_DEFAULTS } from '../../proxy/put-limits.js';
import { PROXY_DEFAULTS } from '../../config/defaults.js';
import { checked, hostPortValue, sizeValue, wholeNumberValue } from '../shared/flag-values.js';
import { addLogOptions, type LogFlags } from '../shared/log-options.js';

/** Flags of `start`, shared with `init systemd` (which writes them into the unit's ExecStart). */
export interface ProxyStartFlags extends LogFlags {
  store: string;
  endpoint?: string;
  region?: string;
  pathStyle?: boolean;
  bindAddr: string;
  diskFolder: string;
  diskQuota: string;
  keyPrefix?: string;
  /** true (`--sse`) or 'require' (`--sse=require`); validated by parseSseMode. */
  sse?: boolean | string;
  noSSL?: boolean;
  sslCert?: string;
  sslKey?: string;
  credsFile: string;
  verbose?: boolean;
  maxConnections?: string;
  maxGets?: string;
  maxFetches?: string;
  maxQueuedGets?: string;
  maxPuts?: string;
  maxQueuedPuts?: string;
}

export const DEFAULT_PORT = PROXY_DEFAULTS.port;

export function defaultDiskFolder(): string {
  return process.getuid?.() === 0 ? '/var/cache/flexfs/proxy' : join(process.env.FLEXFS_HOME ? flexfsHome() : join(homedir(), '.flexfs'), 'proxy', 'cache');
}

export function addStartOptions(cmd: Command): Command {
  return addLogOptions(cmd
    .requiredOption('--store <url>', 'bucket the blocks live in: s3://bucket[/prefix] or file:///dir')
    .option('--endpoint <url>', 'S3 endpoint URL (default: AWS for the region)')
    .option('--region <region>', 'S3 region')
    .option('--pathStyle', 'path-style S3 addressing (default for endpoints not ending in amazonaws.com)')
    .option('--bindAddr <host:port>', 'address to listen on', checked(hostPortValue(false)), `0.0.0.0:${DEFAULT_PORT}`)
    .option('--diskFolder <dir>', 'folder of the disk cache', defaultDiskFolder())
    .option('--diskQuota <size>', 'disk cache quota: bytes, a size like 50G, or a percentage of the filesystem', checked(sizeValue(true)), PROXY_DEFAULTS.diskQuota)
    .option('--keyPrefix <prefix>', 'serve only keys under this prefix (e.g. a volume id)')
    .option('--sse [require]', 'add x-amz-server-side-encryption: AES256 to every PUT to the bucket and warn when the bucket does not '
      + 'apply it; --sse=require refuses such writes instead', sseOption('--sse'))
    .addOption(new Option('--noSSL', 'serve plain HTTP instead of HTTPS').conflicts(['sslCert', 'sslKey']))
    .option('--sslCert <file>', 'TLS certificate (PEM); default: a self-signed one in ~/.flexfs/proxy/')
    .option('--sslKey <file>', 'TLS private key (PEM) for --sslCert')
    .option('--credsFile <file>', 'credentials file with blockUser, blockPass, token', proxyCredsPath())
    .option('--maxConnections <n>', 'concurrent client connections accepted (a mount opens up to 64); more are closed at once', checked(wholeNumberValue(1)), String(DEFAULT_MAX_CONNECTIONS))
    .option('--maxGets <n>', 'client GETs holding a block in memory at once (bounds memory with --maxFetches: (maxGets + maxFetches) x 8 MiB at most)', checked(wholeNumberValue(1)), String(GET_LIMIT_DEFAULTS.maxGets))
    .option('--maxFetches <n>', 'bucket GETs at once', checked(wholeNumberValue(1)), String(GET_LIMIT_DEFAULTS.maxFetches))
    .option('--maxQueuedGets <n>', 'client GETs waiting for a slot; beyond that a GET gets 503 at once', checked(wholeNumberValue(0)), String(GET_LIMIT_DEFAULTS.maxQueued))
    .option('--maxPuts <n>', 'client PUTs holding their body in memory at once (a block frame, 8 MiB at most from a mount)', checked(wholeNumberValue(1)), String(PUT_LIMIT_DEFAULTS.maxPuts))
    .option('--maxQueuedPuts <n>', 'client PUTs waiting for a slot, body unread; beyond that a PUT gets 503 at once', checked(wholeNumberValue(0)), String(PUT_LIMIT_DEFAULTS.maxQueued))
    .option('--verbose', 'log every request'));
}

