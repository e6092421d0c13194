/**
 * Identity strings of the squash flags (`--rootSquash 65534:65534`, `allSquash=1000:100` in
 * fstab, `token create --allSquash …`): a numeric uid and gid, separated by a colon.
 */
export interface IdPairValue {
  uid: number;
  gid: number;
}

/** The highest id a kernel takes ((uid_t)-1 means "unchanged" to chown). */
const MAX_ID = 0xffff_fffe;

export function parseIdPair(text: string): IdPairValue {
  const m = /^\s*(\d{1,10}):(\d{1,10})\s*$/.exec(String(text));
  const uid = m ? Number(m[1]) : NaN;
  const gid = m ? Number(m[2]) : NaN;
  if (!m || uid > MAX_ID || gid > MAX_ID) throw new Error(`"${text}": expected uid:gid with numeric ids, e.g. 65534:65534`);
  return { uid, gid };
}
