import { FsError } from '../../errors/index.js';
import type { ChangesFrame } from '../protocol/changes.js';
import type { OpSpec } from '../protocol/ops.js';
import { hasSessionScope, type IdPair, type TokenScope } from '../token-scope.js';
import { ROOT_INO, type Attr, type CommitRequest, type DirPage, type OpContext, type SetAttrChanges } from '../types.js';

/**
 * A scoped token's rules, applied by meta.flexfs to every operation of its sessions before the
 * core sees it (docs/SEMANTICS.md "Scoped tokens"), so no client can get around them:
 * - readOnly: every mutating operation answers EROFS (opening, closing and locks still work);
 * - subdir: the session's inode 1 is the subtree's directory, in requests and in replies
 *   (attributes, listings, changes frames); the parent of that root is itself; every inode a
 *   request names must lie in the subtree, else ENOENT (EXDEV for the source or the destination
 *   of a rename or a link: moving out is refused like a move across file systems);
 * - rootSquash / allSquash: the caller's uid and gid (groups emptied) are rewritten; a squashed
 *   caller may not give a file away (chown to another uid or gid: EPERM).
 */

/** Mutating ops a read-only session may still make: holds of open files and locks. */
const READ_ONLY_ALLOWED = new Set(['open', 'release', 'setlk', 'flock', 'releaseLocks']);
/** Ops whose inode arguments are a source and a destination: leaving the subtree is EXDEV. */
const MOVES = new Set(['rename', 'link']);

/** Does inode `ino` lie in the subtree of `dir`? (a read transaction on the volume) */
export type WithinCheck = (inos: number[], dir: number) => Promise<boolean[]>;

export class SessionScope {
  private readonly root: number;

  private constructor(private readonly scope: TokenScope, private readonly within: WithinCheck | null) {
    this.root = scope.subdirIno ?? ROOT_INO;
  }

  /** The rules of a token, or null when it has none to enforce. A subdir needs `within`. */
  static of(scope: TokenScope, within: WithinCheck | null): SessionScope | null {
    if (!hasSessionScope(scope)) return null;
    if (scope.subdirIno !== undefined && scope.subdirIno !== ROOT_INO && !within) {
      throw new Error('this metadata engine cannot check a subdir scope');
    }
    return new SessionScope(scope, within);
  }

  get readOnly(): boolean { return this.scope.readOnly === true; }
  get subdir(): string | undefined { return this.root !== ROOT_INO ? this.scope.subdir : undefined; }

  /**
   * Check and rewrite one request in place (`args` as validated, `ci` the context's position):
   * throws EROFS, ENOENT, EXDEV or EPERM when the scope refuses it.
   */
  async request(op: string, spec: OpSpec, args: unknown[], ci: number): Promise<void> {
    if (this.readOnly && spec.mutating && !READ_ONLY_ALLOWED.has(op)) {
      throw new FsError('EROFS', `${op}: this session's token is read-only`);
    }
    const ctx = args[ci] as OpContext;
    if (ci >= 0) this.squash(ctx);
    if (op === 'setattr' && this.squashes) this.checkChown(args[1] as SetAttrChanges, ctx);
    if (this.root === ROOT_INO) return;

    // the inode arguments, mapped from the session's view (1 = the subtree's root)
    const slots: Array<{ get(): number; set(v: number): void }> = [];
    spec.args.forEach((kind, i) => {
      if (kind === 'ino') slots.push({ get: () => args[i] as number, set: (v) => { args[i] = v; } });
    });
    if (op === 'commit') {
      const req = args[0] as CommitRequest;
      slots.push({ get: () => req.ino, set: (v) => { req.ino = v; } });
    }
    // statfs's inode is optional (older clients send none): the session's root then, so `df`
    // of a subdir mount shows the subtree's quota, and never one outside it.
    if (op === 'statfs') {
      if (args[1] === undefined || args[1] === null) args[1] = ROOT_INO;
      slots.push({ get: () => args[1] as number, set: (v) => { args[1] = v; } });
    }
    for (const s of slots) if (s.get() === ROOT_INO) s.set(this.root);
    // ".." of the scope's root is the root itself
    if (op === 'lookup' && args[0] === this.root && args[1] === '..') args[1] = '.';

    const outside = slots.map((s) => s.get()).filter((ino) => ino !== this.root);
    if (outside.length === 0) return;
    const inside = await this.within!(outside, this.root);
    if (inside.every(Boolean)) return;
    if (MOVES.has(op)) throw new FsError('EXDEV', `${op}: the source or the destination is outside this session's subtree`);
    throw new FsError('ENOENT', `${op}: no such inode in this session's subtree`);
  }

  /** The reply as the session sees it: the subtree's root as inode 1. */
  reply(result: unknown): unknown {
    if (this.root === ROOT_INO || result === null || typeof result !== 'object') return result;
    const r = result as Partial<Attr> & Partial<DirPage>;
    if (typeof r.ino === 'number' && typeof r.type === 'string') return this.attr(r as Attr);
    if (Array.isArray(r.entries)) return { ...r, entries: r.entries.map((e) => ({ ...e, attr: this.attr(e.attr) })) };
    return result;
  }

  /**
   * Changes frames in the session's numbering. Entries (they carry names) go only when their
   * directory lies in the subtree, so a scoped session learns no name from outside; what only
   * the volume's real root names goes too. Inode numbers alone (attrs, data, locks) pass.
   */
  async changes(frame: ChangesFrame): Promise<ChangesFrame> {
    if (this.root === ROOT_INO) return frame;
    const map = (ino: number) => (ino === this.root ? ROOT_INO : ino);
    const inos = (list?: number[]) => list?.filter((i) => i !== ROOT_INO).map(map);
    const out: ChangesFrame = { t: 'changes' };
    if (frame.all) out.all = true;
    if (frame.e) {
      const dirs = [...new Set(frame.e.map(([p]) => p).filter((p) => p !== ROOT_INO && p !== this.root))];
      const found = dirs.length ? await this.within!(dirs, this.root) : [];
      const inside = new Set(dirs.filter((_, i) => found[i]));
      out.e = frame.e.filter(([p]) => p === this.root || inside.has(p)).map(([p, n]) => [map(p), n]);
    }
    if (frame.a) out.a = inos(frame.a);
    if (frame.d) out.d = inos(frame.d);
    if (frame.l) out.l = inos(frame.l);
    return out;
  }

  private attr(a: Attr): Attr {
    return a.ino === this.root ? { ...a, ino: ROOT_INO } : a;
  }

  private get squashes(): boolean {
    return this.scope.rootSquash !== undefined || this.scope.allSquash !== undefined;
  }

  private squash(ctx: OpContext): void {
    const to: IdPair | undefined = this.scope.allSquash ?? (ctx.uid === 0 ? this.scope.rootSquash : undefined);
    if (!to) return;
    ctx.uid = to.uid;
    ctx.gid = to.gid;
    ctx.groups = [];
  }

  /** A squashed caller may not give a file to someone else (only root may chown in POSIX). */
  private checkChown(ch: SetAttrChanges, ctx: OpContext): void {
    if (ctx.uid === 0) return;
    if (ch.uid !== undefined && ch.uid !== ctx.uid) throw new FsError('EPERM', 'chown: a squashed caller may not change a file\'s owner');
    if (ch.gid !== undefined && ch.gid !== ctx.gid && !(ctx.groups ?? []).includes(ch.gid)) {
      throw new FsError('EPERM', 'chown: a squashed caller may only change a file\'s group to its own');
    }
  }
}
