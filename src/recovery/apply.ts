import { isFsError } from '../errors/index.js';
import type { MetaStore, OpContext } from '../meta/types.js';
import type { ObjectStore } from '../store/types.js';
import { blockKey } from '../store/keys.js';
import { SseRefusedError, withSseCheck } from '../store/sse.js';
import { dirname } from 'node:path';
import { recoverCommand } from './paths.js';
import { withDeadline } from '../vfs/deadline.js';
import { RecordFormatError, type RecoveryRecord } from './record.js';
import type { RecoveryFolder } from './folder.js';

export interface RecoveryLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface ApplyDeps {
  meta: MetaStore;
  store: ObjectStore;
  volumeId: string;
  ctx: OpContext;
  /** Deadline of one block PUT (the store's retries included). */
  putDeadlineMs: number;
  log: RecoveryLog;
}

export interface ApplySummary {
  applied: number;
  /** The inode was deleted meanwhile: nothing resurrected, record removed. */
  gone: number;
  /** A later commit changed the file meanwhile: record kept under superseded/. */
  superseded: number;
  /** Unreadable records, kept under damaged/. */
  damaged: number;
  /** Records of a --sse=require mount the store would not encrypt: kept under refused/. */
  refused: number;
}

export class RecoveryApplyError extends Error {}

/**
 * Apply a recovery folder: for each record, in order, the rule is
 * - the inode is gone (deleted, unlinked with only open holds left, or no longer a file): skip,
 *   remove the record — a deleted file is never resurrected;
 * - the file's mtime is later than the record's (another commit wrote it after this data was
 *   written: later commit wins): skip, keep the record under superseded/;
 * - else PUT the frames (block keys are new: a record's blocks never overwrite anything), then
 *   commit the slots, size and mtime, and remove the record;
 * - a record saved under --sse=require is PUT with SSE required whatever this mount's --sse: if
 *   the store does not apply it, nothing is committed and the record is kept under refused/
 *   (data refused for want of SSE is never stored without it, nor does it stop the mount).
 * A store or metadata failure stops at once with RecoveryApplyError (the rest stays for the next
 * try). Every decision is logged.
 */
export async function applyRecovery(folder: RecoveryFolder, d: ApplyDeps): Promise<ApplySummary> {
  const summary: ApplySummary = { applied: 0, gone: 0, superseded: 0, damaged: 0, refused: 0 };
  const entries = await folder.list();
  if (entries.length === 0) {
    await folder.removeIfEmpty();
    return summary;
  }
  d.log.info(`applying ${entries.length} recovery record(s) from ${folder.folder}`, { folder: folder.folder });
  for (const entry of entries) {
    let rec: RecoveryRecord;
    try {
      rec = await folder.read(entry);
    } catch (e) {
      if (!(e instanceof RecordFormatError)) throw e;
      const to = await folder.moveAside(entry, 'damaged');
      d.log.error(`recovery record ${entry.name} is damaged (${e.message}): not applied, kept as ${to}`, { record: to });
      summary.damaged++;
      continue;
    }
    if (rec.volumeId !== d.volumeId) {
      throw new RecoveryApplyError(`recovery record ${entry.name} in ${folder.folder} belongs to volume id ${rec.volumeId} `
        + `("${rec.volume}"), not to this volume (id ${d.volumeId}): point flexfs at that volume's folder`);
    }
    const what = `inode ${rec.ino} (${rec.size} bytes, written ${new Date(Number(rec.mtime / 1_000_000n)).toISOString()})`;
    const attr = await d.meta.getattr(rec.ino, d.ctx).catch((e: unknown) => {
      if (isFsError(e) && e.code === 'ENOENT') return undefined;
      throw new RecoveryApplyError(`recovery of ${what}: metadata lookup failed: ${(e as Error).message}`, { cause: e });
    });
    if (!attr || attr.nlink === 0 || attr.type !== 'file') {
      await folder.remove(entry);
      d.log.info(`recovery: skipped ${what}: the file was deleted meanwhile (nothing resurrected)`, { ino: rec.ino });
      summary.gone++;
      continue;
    }
    if (attr.mtime > rec.mtime) {
      const to = await folder.moveAside(entry, 'superseded');
      d.log.warn(`recovery: skipped ${what}: a later commit changed the file meanwhile (later commit wins); the record is kept as ${to}`, { ino: rec.ino, record: to });
      summary.superseded++;
      continue;
    }
    const refusal = await upload(rec, d).then(() => undefined, (e: unknown) => {
      if (e instanceof SseRefusedError) return e;
      throw new RecoveryApplyError(`recovery of ${what}: uploading its blocks failed: ${(e as Error).message}`, { cause: e });
    });
    if (refusal) {
      const to = await folder.moveAside(entry, 'refused');
      d.log.error(`recovery: not applied ${what}: it was written under --sse=require and ${refusal.message}; nothing committed, `
        + `the record is kept as ${to} (apply it once the store applies SSE-S3: ${recoverCommand(rec.volume, dirname(to))})`,
      { ino: rec.ino, record: to });
      summary.refused++;
      continue;
    }
    await d.meta.commit({ ino: rec.ino, size: rec.size, mtime: rec.mtime, writes: rec.writes.map(({ index, blockId, length }) => ({ index, blockId, length })) }, d.ctx)
      .catch((e: unknown) => {
        throw new RecoveryApplyError(`recovery of ${what}: the commit failed: ${(e as Error).message}`, { cause: e });
      });
    await folder.remove(entry);
    d.log.info(`recovery: applied ${what}: ${rec.writes.filter((w) => w.frame).length} block(s) uploaded, committed`, { ino: rec.ino });
    summary.applied++;
  }
  await folder.removeIfEmpty();
  return summary;
}

async function upload(rec: RecoveryRecord, d: ApplyDeps): Promise<void> {
  const store = rec.sseRequired ? withSseCheck(d.store, { mode: 'require' }) : d.store;
  await Promise.all(rec.writes.map(async (w) => {
    if (!w.frame) return;
    const key = blockKey(d.volumeId, rec.ino, w.index, w.blockId);
    const frame = w.frame;
    await withDeadline(`put block ${w.index} of inode ${rec.ino}`, d.putDeadlineMs, (signal) => store.put(key, frame, { signal, ...(rec.sseRequired ? { sse: true } : {}) }));
  }));
}
