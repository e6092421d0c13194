import type { Command } from 'commander';
import { formatSize, parseSize } from '../../config/sizes.js';
import type { QuotaLimits, QuotaReport } from '../../meta/core/quota-admin.js';
import { formatPairs, formatTable } from '../shared/table.js';
import { checked, sizeValue, UsageError, wholeNumberValue, type ValueCheck } from '../shared/flag-values.js';
import { addAdminOptions, adminClient, fail, type AdminFlags } from './common.js';

/**
 * `meta.flexfs quota set|get|list|delete VOL PATH`: directory quotas (bytes and inodes) through
 * the server's admin REST routes (docs/OPERATIONS.md, "Directory quotas"; rules in
 * src/meta/core/quota.ts).
 */

interface SetFlags extends AdminFlags { bytes?: string; inodes?: string; json?: boolean }

/** `--bytes`: a size (10G), or none (also 0) for no byte limit. */
const limitSizeValue: ValueCheck = (t) => (t === 'none' ? 0 : sizeValue(false)(t));
/** `--inodes`: a whole number, or none (also 0) for no inode limit. */
const limitCountValue: ValueCheck = (t) => (t === 'none' ? 0 : wholeNumberValue(0)(t));

export function quotaLimitsFromFlags(f: SetFlags): QuotaLimits {
  const limits: QuotaLimits = {};
  if (f.bytes !== undefined) limits.bytes = f.bytes === 'none' ? 0 : parseSize(f.bytes);
  if (f.inodes !== undefined) limits.inodes = f.inodes === 'none' ? 0 : Number(f.inodes);
  if (limits.bytes === undefined && limits.inodes === undefined) {
    throw new UsageError('quota set: give --bytes SIZE, --inodes N or both (none: no limit of that kind)');
  }
  return limits;
}

function checkPath(path: string): string {
  if (!path.startsWith('/')) throw new UsageError(`"${path}": give the directory's path in the volume, starting with / (the volume's root)`);
  return path;
}

const limitText = (n: number, size: boolean) => (n === 0 ? 'none' : size ? formatSize(n) : String(n));

export function describeQuota(q: QuotaReport): string {
  return formatPairs([
    ['path', q.path], ['inode', q.ino],
    ['bytes', `${formatSize(q.usage.bytes)} of ${limitText(q.limits.bytes, true)}`],
    ['inodes', `${q.usage.inodes} of ${limitText(q.limits.inodes, false)}`],
  ]);
}

export function registerQuota(program: Command): void {
  const quota = program.command('quota').description('directory quotas: bytes and inodes below a directory, enforced on every mount (EDQUOT)');

  addAdminOptions(quota.command('set <volume> <path>')
    .description('set or change a directory\'s quota (a limit not given stays as it was); counts what the directory holds now')
    .option('--bytes <size|none>', 'most bytes (sum of file sizes) below the directory, e.g. 10G (none or 0: no limit)', checked(limitSizeValue))
    .option('--inodes <n|none>', 'most files, directories and links below it (none or 0: no limit)', checked(limitCountValue))
    .option('--json', 'JSON output'))
    .action((volume: string, path: string, f: SetFlags) => (async () => {
      const limits = quotaLimitsFromFlags(f);
      const q = await (await adminClient(f)).setQuota(volume, checkPath(path), limits);
      process.stdout.write(f.json ? JSON.stringify(q, null, 2) + '\n' : describeQuota(q));
    })().catch(fail));

  addAdminOptions(quota.command('get <volume> <path>').description('show a directory\'s quota: limits and usage').option('--json', 'JSON output'))
    .action((volume: string, path: string, f: AdminFlags & { json?: boolean }) => (async () => {
      const q = await (await adminClient(f)).getQuota(volume, checkPath(path));
      process.stdout.write(f.json ? JSON.stringify(q, null, 2) + '\n' : describeQuota(q));
    })().catch(fail));

  addAdminOptions(quota.command('list <volume>').description('list the volume\'s quotas: path, limits, usage').option('--json', 'JSON output'))
    .action((volume: string, f: AdminFlags & { json?: boolean }) => (async () => {
      const list = await (await adminClient(f)).listQuotas(volume);
      if (f.json) { process.stdout.write(JSON.stringify(list, null, 2) + '\n'); return; }
      process.stdout.write(formatTable(['PATH', 'USED', 'BYTE LIMIT', 'INODES', 'INODE LIMIT'],
        list.map((q) => [q.path, formatSize(q.usage.bytes), limitText(q.limits.bytes, true), q.usage.inodes, limitText(q.limits.inodes, false)])));
    })().catch(fail));

  addAdminOptions(quota.command('delete <volume> <path>').description('remove a directory\'s quota'))
    .action((volume: string, path: string, f: AdminFlags) => (async () => {
      const r = await (await adminClient(f)).deleteQuota(volume, checkPath(path));
      process.stdout.write(`deleted the quota of ${r.deleted}\n`);
    })().catch(fail));
}
