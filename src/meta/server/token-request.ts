import { FsError } from '../../errors/index.js';
import { HttpError } from '../../util/http-error.js';
import type { MetaEngine, TokenSpec } from '../engine.js';
import { ROOT_INO, type OpContext } from '../types.js';
import type { IdPair } from '../token-scope.js';

/**
 * `POST /v1/tokens`: the body checked into a TokenSpec. `subdir` is a path in the volume,
 * resolved here to its directory inode (what the server enforces; the path is kept for display),
 * so a later rename of the directory moves the scope with it. Volumes with encrypted names are
 * refused a subdir: the server cannot read their names.
 */
const ROOT: OpContext = { uid: 0, gid: 0 };

function bad(message: string): HttpError {
  return new HttpError(400, message, 'EINVAL');
}

function idPair(body: Record<string, unknown>, k: 'rootSquash' | 'allSquash'): IdPair | undefined {
  const v = body[k];
  if (v === undefined || v === null) return undefined;
  const p = v as Partial<IdPair>;
  if (typeof v !== 'object' || !Number.isInteger(p.uid) || !Number.isInteger(p.gid) || p.uid! < 0 || p.gid! < 0) {
    throw bad(`"${k}" must be {"uid": N, "gid": N} with whole numbers`);
  }
  return { uid: p.uid!, gid: p.gid! };
}

/** The directory inode at `path` in the volume (ENOENT / ENOTDIR naming the path). */
export async function resolveSubdir(engine: MetaEngine, volumeId: string, path: string): Promise<{ ino: number; path: string }> {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw bad(`"subdir" ${path}: ".." is not allowed; give the path from the volume's root`);
  const store = engine.volume(volumeId);
  let ino = ROOT_INO;
  for (let i = 0; i < parts.length; i++) {
    const at = '/' + parts.slice(0, i + 1).join('/');
    const a = await store.lookup(ino, parts[i], ROOT).catch((e) => {
      throw e instanceof FsError && e.code === 'ENOENT' ? new HttpError(404, `"subdir" ${at}: no such directory in the volume`, 'ENOENT') : e;
    });
    if (a.type !== 'dir') throw bad(`"subdir" ${at}: not a directory`);
    ino = a.ino;
  }
  return { ino, path: '/' + parts.join('/') };
}

export async function tokenSpecFrom(engine: MetaEngine, body: Record<string, unknown>): Promise<TokenSpec> {
  const volume = body.volume;
  if (volume !== undefined && typeof volume !== 'string') throw bad('"volume" must be a string');
  if (!volume && body.admin !== true) throw bad('a token needs a "volume" or "admin": true');
  const spec: TokenSpec = { admin: body.admin === true };
  let volumeId: string | undefined;
  if (volume) {
    const v = await engine.getVolume(volume);
    if (!v) throw new HttpError(404, `volume "${volume}" does not exist`, 'ENOENT');
    volumeId = v.id;
    spec.volume = v.id;
    if (body.subdir !== undefined && body.subdir !== null) {
      if (typeof body.subdir !== 'string' || !body.subdir.startsWith('/')) throw bad('"subdir" must be an absolute path in the volume, like /projects/a');
      if (v.nameEncryption) throw bad(`"subdir": volume "${v.name}" encrypts its names, so the server cannot find ${body.subdir}; make an unscoped token`);
      const d = await resolveSubdir(engine, volumeId, body.subdir);
      if (d.ino !== ROOT_INO) { spec.subdir = d.path; spec.subdirIno = d.ino; }
    }
  } else if (body.subdir !== undefined && body.subdir !== null) {
    throw bad('"subdir" needs a "volume"');
  }
  if (typeof body.label === 'string') spec.label = body.label.slice(0, 200);
  if (body.readOnly !== undefined && body.readOnly !== null) {
    if (typeof body.readOnly !== 'boolean') throw bad('"readOnly" must be true or false');
    if (body.readOnly) spec.readOnly = true;
  }
  if (body.expiresAt !== undefined && body.expiresAt !== null) {
    if (typeof body.expiresAt !== 'number' || !Number.isSafeInteger(body.expiresAt) || body.expiresAt <= 0) {
      throw bad('"expiresAt" must be a time in ms since the epoch');
    }
    if (body.expiresAt <= Date.now()) throw bad(`"expiresAt" ${new Date(body.expiresAt).toISOString()} is in the past`);
    spec.expiresAt = body.expiresAt;
  }
  const rootSquash = idPair(body, 'rootSquash');
  const allSquash = idPair(body, 'allSquash');
  if (rootSquash && allSquash) throw bad('give "rootSquash" or "allSquash", not both');
  if (rootSquash) spec.rootSquash = rootSquash;
  if (allSquash) spec.allSquash = allSquash;
  return spec;
}
