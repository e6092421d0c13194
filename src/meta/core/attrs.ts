import { FsError } from '../../errors/index.js';
import type { Attr, SetAttrChanges } from '../types.js';
import { S_IFMT, S_ISGID, S_ISUID } from '../../util/mode.js';
import { checkInt, toAttr } from './rules.js';
import { chargeSize, checkCapacity, truncateSlots } from './data.js';
import type { Op } from './op.js';

/** setattr: mode, owner (with the setuid/setgid drop on chown), size (truncate), times. */

/** `keepCtime` marks an access-time bump: atime and nothing else may change with it. */
function checkAccessOnly(ch: SetAttrChanges): void {
  const others = (['mode', 'uid', 'gid', 'size', 'mtime', 'ctime'] as const).filter((k) => ch[k] !== undefined);
  if (ch.atime === undefined || others.length > 0) {
    throw new FsError('EINVAL', `keepCtime is for an atime update alone${others.length ? `, not with ${others.join(', ')}` : ''}`);
  }
}

export async function setattr(op: Op, ino: number, ch: SetAttrChanges): Promise<Attr> {
  const r = await op.must(ino);
  if (ch.keepCtime) checkAccessOnly(ch);
  if (ch.mode !== undefined) r.mode = (r.mode & S_IFMT) | (checkInt(ch.mode, 'mode') & 0o7777);
  const owner = (ch.uid !== undefined && ch.uid !== r.uid) || (ch.gid !== undefined && ch.gid !== r.gid);
  if (ch.uid !== undefined) r.uid = checkInt(ch.uid, 'uid');
  if (ch.gid !== undefined) r.gid = checkInt(ch.gid, 'gid');
  // chown of a non-directory drops setuid, and setgid when it means "group executable".
  if (owner && ch.mode === undefined && r.type !== 'dir') {
    r.mode &= ~S_ISUID;
    if (r.mode & 0o010) r.mode &= ~S_ISGID;
  }
  if (ch.size !== undefined) {
    if (r.type === 'dir') throw new FsError('EISDIR', 'cannot truncate a directory');
    if (r.type !== 'file') throw new FsError('EINVAL', 'can only truncate regular files');
    const size = checkInt(ch.size, 'size');
    await checkCapacity(op, size - r.size);
    await chargeSize(op, r, size);
    await truncateSlots(op, r, size);
    op.tx.addCounter('usedBytes', size - r.size);
    r.size = size;
    r.mtime = op.now;
  }
  if (ch.atime !== undefined) r.atime = ch.atime === 'now' ? op.now : ch.atime;
  if (ch.mtime !== undefined) r.mtime = ch.mtime === 'now' ? op.now : ch.mtime;
  if (!ch.keepCtime) r.ctime = ch.ctime ?? op.now;
  op.touch(r);
  return toAttr(r);
}
