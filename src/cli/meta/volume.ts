import { Option, type Command } from 'commander';
import { parseSize, formatSize, sizeFlag } from '../../config/sizes.js';
import { VOLUME_DEFAULTS } from '../../config/defaults.js';
import { MAX_BLOCK_SIZE, MIN_BLOCK_SIZE } from '../../meta/core/admin.js';
import { parseStoreUrl } from '../../store/url.js';
import { createEncryption } from '../../codec/index.js';
import type { VolumeReport, VolumeSpec, VolumeUpdate } from '../../meta/engine.js';
import type { VolumeSettings } from '../../meta/types.js';
import { readNewPassphrase } from '../shared/secrets.js';
import { durationFlag, formatPairs, formatTable, parseDuration } from '../shared/table.js';
import { checked, durationValue, hostPortValue, sizeValue, UsageError, wholeNumberValue, type ValueCheck } from '../shared/flag-values.js';
import { addAdminOptions, adminClient, fail, type AdminFlags } from './common.js';

interface CreateFlags extends AdminFlags {
  store: string; blockSize: string; compression: string; encrypt?: boolean; endpoint?: string; region?: string;
  pathStyle?: boolean; sse?: boolean; ambientCredentials?: boolean; assumeRoleArn?: string; stsEndpoint?: string;
  retention: string; proxies?: string; capacity?: string; inodeLimit?: string;
}

/** Map `volume create` flags onto a VolumeSpec; errors name the flag. */
export function volumeSpecFromFlags(name: string, f: CreateFlags): VolumeSpec {
  const blockSize = parseSize(f.blockSize);
  if (blockSize < MIN_BLOCK_SIZE || blockSize > MAX_BLOCK_SIZE || (blockSize & (blockSize - 1)) !== 0) {
    throw new Error(`--blockSize ${f.blockSize}: must be a power of two from ${sizeFlag(MIN_BLOCK_SIZE)} to ${sizeFlag(MAX_BLOCK_SIZE)}`);
  }
  if (f.compression !== 'lz4' && f.compression !== 'none') throw new Error(`--compression ${f.compression}: expected lz4 or none`);
  try { parseStoreUrl(f.store); } catch (e) { throw new Error(`--store: ${(e as Error).message}`); }
  const proxies = f.proxies ? f.proxies.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  for (const p of proxies ?? []) if (!/^[^\s:]+:\d{1,5}$|^https?:\/\//.test(p)) throw new Error(`--proxies: "${p}" is not host:port`);
  if (f.assumeRoleArn !== undefined && !/^arn:[^\s:]*:[^\s]+$/.test(f.assumeRoleArn)) {
    throw new Error(`--assumeRoleArn ${f.assumeRoleArn}: expected a role ARN like arn:aws:iam::<account>:role/<name>`);
  }
  if (f.stsEndpoint !== undefined && !/^https?:\/\/\S+$/.test(f.stsEndpoint)) throw new Error(`--stsEndpoint ${f.stsEndpoint}: expected an http(s):// URL`);
  let inodeLimit: number | undefined;
  if (f.inodeLimit !== undefined) {
    inodeLimit = /^\d+$/.test(f.inodeLimit) ? Number(f.inodeLimit) : NaN;
    if (!Number.isSafeInteger(inodeLimit)) throw new Error(`--inodeLimit ${f.inodeLimit}: expected a whole number of inodes (0 = unlimited)`);
  }
  return {
    name,
    blockSize,
    compression: f.compression,
    blockStore: {
      url: f.store,
      endpoint: f.endpoint,
      region: f.region,
      pathStyle: f.pathStyle,
      sse: f.sse,
      credentials: f.ambientCredentials ? 'ambient' : 'static',
      assumeRoleArn: f.assumeRoleArn,
      stsEndpoint: f.stsEndpoint,
    },
    retentionSeconds: parseDuration(f.retention),
    proxies,
    capacityBytes: f.capacity ? parseSize(f.capacity) : undefined,
    inodeLimit,
  };
}

/** A volume's limits (0 = unlimited) and, when known, its usage. */
type VolumeLimits = Pick<VolumeReport, 'capacityBytes' | 'inodeLimit'> & Partial<Pick<VolumeReport, 'usage'>>;

export function describeVolume(v: VolumeSettings, limits?: VolumeLimits): string {
  const bs = v.blockStore;
  const usage = limits?.usage;
  return formatPairs([
    ['name', v.name], ['id', v.id], ['block size', formatSize(v.blockSize)], ['compression', v.compression],
    ['encryption', v.encryption ? `AES-256-GCM (kdf ${v.encryption.kdf} N=${v.encryption.N} r=${v.encryption.r} p=${v.encryption.p})` : 'none'],
    // Older E2E volumes keep plaintext names (docs/OPERATIONS.md, "What the metadata server sees").
    ['names', v.encryption ? (v.nameEncryption ? 'encrypted' : 'plaintext (created before name encryption)') : undefined],
    ['store', bs.url], ['endpoint', bs.endpoint], ['region', bs.region], ['path style', bs.pathStyle ?? false],
    ['sse', bs.sse ?? false], ['credentials', bs.credentials ?? 'static'], ['assume role', bs.assumeRoleArn],
    ['sts endpoint', bs.stsEndpoint], ['retention', `${v.retentionSeconds} s`],
    ['proxies', v.proxies?.join(',')],
    ...(limits ? [
      ['capacity', limits.capacityBytes ? formatSize(limits.capacityBytes) : 'unlimited'],
      ['inode limit', limits.inodeLimit || 'unlimited'],
    ] as Array<[string, string | number]> : []),
    ...(usage ? [['used', `${formatSize(usage.usedBytes)} in ${usage.inodes} inodes`]] as Array<[string, string]> : []),
  ]);
}

/** `--capacity`: a size, or none (also 0) for unlimited. */
const capacityValue: ValueCheck = (t) => (t === 'none' ? 0 : sizeValue(false)(t));

/** `--proxies`: host:port,host:port, or none to remove the proxy group. */
const proxyListValue: ValueCheck = (t) => (t === 'none' ? [] : splitProxies(t).map((p) => hostPortValue(false)(p)));

function splitProxies(t: string): string[] {
  const list = t.split(',').map((p) => p.trim()).filter(Boolean);
  if (!list.length) throw new Error(`"${t}": expected host:port[,host:port…] or none`);
  return list;
}

interface UpdateFlags extends AdminFlags {
  capacity?: string; inodeLimit?: string; retention?: string; proxies?: string; sse?: boolean; json?: boolean;
}

/**
 * `volume create` flags that `volume update` refuses by name: a volume's blocks are stored with
 * them (block size, compression, encryption) or where they are (the store and how it is reached).
 */
const FIXED_AT_CREATION = ['blockSize <size>', 'compression <codec>', 'encrypt', 'store <url>', 'endpoint <url>', 'region <region>',
  'pathStyle', 'ambientCredentials', 'assumeRoleArn <arn>', 'stsEndpoint <url>'];

/** Map `volume update` flags onto a VolumeUpdate (values were checked by commander); usage errors name the flag. */
export function volumeUpdateFromFlags(f: UpdateFlags & Record<string, unknown>): VolumeUpdate {
  for (const spec of FIXED_AT_CREATION) {
    const flag = spec.split(' ')[0];
    if (f[flag] !== undefined) {
      throw new UsageError(`--${flag} cannot change after a volume is created (its blocks are stored that way): ` +
        'create a new volume with the setting and copy the files over');
    }
  }
  const update: VolumeUpdate = {};
  if (f.capacity !== undefined) update.capacityBytes = capacityValue(f.capacity) as number;
  if (f.inodeLimit !== undefined) update.inodeLimit = Number(f.inodeLimit);
  if (f.retention !== undefined) update.retentionSeconds = parseDuration(f.retention);
  if (f.proxies !== undefined) update.proxies = f.proxies === 'none' ? [] : splitProxies(f.proxies);
  if (f.sse !== undefined) update.sse = f.sse;
  if (!Object.keys(update).length) {
    throw new UsageError('volume update: nothing to change; give --capacity, --inodeLimit, --retention, --proxies, --sse or --no-sse');
  }
  return update;
}

/** Warnings for limits set below what the volume holds now (allowed: the volume is then full). */
function overLimitWarnings(v: VolumeReport): string[] {
  const out: string[] = [];
  if (v.capacityBytes && v.usage.usedBytes > v.capacityBytes) {
    out.push(`warning: volume ${v.name} holds ${formatSize(v.usage.usedBytes)}, more than its capacity ${formatSize(v.capacityBytes)}: ` +
      'writes that grow files fail with ENOSPC until files are truncated or removed');
  }
  if (v.inodeLimit && v.usage.inodes >= v.inodeLimit) {
    out.push(`warning: volume ${v.name} holds ${v.usage.inodes} inodes, its limit is ${v.inodeLimit}: ` +
      'creating files fails with ENOSPC until some are removed');
  }
  return out;
}

export function registerVolume(program: Command): void {
  const volume = program.command('volume').description('create, list, show, update and delete volumes');

  addAdminOptions(volume.command('create <name>')
    .description('create a volume (--encrypt reads the passphrase twice from the TTY or stdin)')
    .requiredOption('--store <url>', 'block store: file:///dir or s3://bucket/prefix')
    .option('--blockSize <size>', `block size, ${sizeFlag(MIN_BLOCK_SIZE)}…${sizeFlag(MAX_BLOCK_SIZE)}`, checked(sizeValue(false)), sizeFlag(VOLUME_DEFAULTS.blockSize))
    .option('--compression <codec>', 'lz4 or none', VOLUME_DEFAULTS.compression)
    .option('--encrypt', 'end-to-end encryption with a passphrase')
    .option('--endpoint <url>', 'S3 endpoint (non-AWS)')
    .option('--region <region>', 'S3 region')
    .option('--pathStyle', 'path-style S3 addressing')
    .option('--sse', 'request server-side encryption on every PUT')
    .option('--ambientCredentials', 'mounts use their own instance role / AWS chain instead of the server\'s blockUser/blockPass')
    .option('--assumeRoleArn <arn>', 'mounts assume this IAM role (STS AssumeRole) for bucket access')
    .option('--stsEndpoint <url>', 'STS endpoint for --assumeRoleArn (non-AWS or regional)')
    .option('--retention <duration>', 'keep superseded blocks this long before gc (e.g. 24h)', checked(durationValue), durationFlag(VOLUME_DEFAULTS.retentionSeconds))
    .option('--proxies <list>', 'proxy group host:port,host:port')
    .option('--capacity <size>', 'capacity: writes past it fail with ENOSPC; statfs reports it (default unlimited)', checked(sizeValue(false)))
    .option('--inodeLimit <n>', 'most inodes the volume may hold: creates past it fail with ENOSPC (default unlimited)', checked(wholeNumberValue(0))))
    .action((name: string, f: CreateFlags) => (async () => {
      const spec = volumeSpecFromFlags(name, f);
      const admin = await adminClient(f);
      if (f.encrypt) spec.encryption = (await createEncryption(await readNewPassphrase('volume passphrase'))).params;
      const v = await admin.createVolume(spec);
      process.stdout.write(describeVolume(v, { capacityBytes: spec.capacityBytes ?? 0, inodeLimit: spec.inodeLimit ?? 0 }));
    })().catch(fail));

  addAdminOptions(volume.command('list').description('list volumes').option('--json', 'JSON output'))
    .action((f: AdminFlags & { json?: boolean }) => (async () => {
      const vols = await (await adminClient(f)).listVolumes();
      if (f.json) { process.stdout.write(JSON.stringify(vols, null, 2) + '\n'); return; }
      process.stdout.write(formatTable(['NAME', 'ID', 'BLOCK', 'COMPRESSION', 'ENCRYPTED', 'STORE'],
        vols.map((v) => [v.name, v.id, formatSize(v.blockSize), v.compression, v.encryption ? 'yes' : 'no', v.blockStore.url])));
    })().catch(fail));

  addAdminOptions(volume.command('show <name>').description('show a volume\'s settings, limits and usage (no secrets)').option('--json', 'JSON output'))
    .action((name: string, f: AdminFlags & { json?: boolean }) => (async () => {
      const v = await (await adminClient(f)).volumeReport(name);
      process.stdout.write(f.json ? JSON.stringify(v, null, 2) + '\n' : describeVolume(v, v));
    })().catch(fail));

  const update = volume.command('update <name>')
    .description('change a volume\'s capacity, inode limit, retention, proxies or SSE; prints the settings after the change')
    .option('--capacity <size|none>', 'capacity (none or 0: unlimited); below the current usage, growing writes get ENOSPC', checked(capacityValue))
    .option('--inodeLimit <n>', 'most inodes (0: unlimited)', checked(wholeNumberValue(0)))
    .option('--retention <duration>', 'keep superseded blocks this long before gc (e.g. 24h)', checked(durationValue))
    .option('--proxies <list|none>', 'proxy group host:port,host:port (none: remove it); mounts started after the change use it', checked(proxyListValue))
    .option('--sse', 'request server-side encryption on every PUT (mounts started after the change)')
    .option('--no-sse', 'stop requesting server-side encryption (mounts started after the change)')
    .option('--json', 'JSON output');
  for (const spec of FIXED_AT_CREATION) update.addOption(new Option(`--${spec}`).hideHelp());
  addAdminOptions(update)
    .action((name: string, f: UpdateFlags & Record<string, unknown>) => (async () => {
      const change = volumeUpdateFromFlags(f);
      const v = await (await adminClient(f)).updateVolume(name, change);
      for (const w of overLimitWarnings(v)) process.stderr.write(`meta.flexfs: ${w}\n`);
      process.stdout.write(f.json ? JSON.stringify(v, null, 2) + '\n' : describeVolume(v, v));
    })().catch(fail));

  addAdminOptions(volume.command('delete <name>').description('delete a volume (refused while it has files unless --force)')
    .option('--force', 'delete even if the volume still has files'))
    .action((name: string, f: AdminFlags & { force?: boolean }) => (async () => {
      await (await adminClient(f)).deleteVolume(name, f.force);
      process.stdout.write(`deleted volume ${name}\n`);
    })().catch(fail));
}
