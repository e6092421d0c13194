import { randomUUID } from 'node:crypto';
import type {
  Attr, BlockRef, ChangeListener, Changes, CommitRequest, DirPage, LockRange, MetaStore, OpContext, SetAttrChanges, StatFs, VolumeSettings,
} from '../types.js';
import { META_OPS, ctxIndex, type MetaOpName } from '../protocol/index.js';
import type { RpcClient } from './rpc-client.js';
import { isFsError } from '../../errors/index.js';

/**
 * MetaStore over the wire. Mutating calls get a client-made opId (unless the caller set one) so
 * that a call re-sent after a reconnect is applied once. Holds (open/create-open minus release)
 * are counted per inode so they can be taken again if the server had to open a new session.
 */
export class RemoteMetaStore implements MetaStore {
  private readonly opPrefix = randomUUID();
  private opSeq = 0;
  private readonly holds = new Map<number, number>();
  private readonly listeners = new Set<ChangeListener>();

  constructor(private readonly rpc: RpcClient) {}

  /** Re-take every hold on a new session (called by the RPC client after a session expired). */
  async restoreHolds(request: (op: string, args: unknown[]) => Promise<unknown>): Promise<void> {
    for (const [ino, n] of this.holds) {
      for (let i = 0; i < n; i++) {
        await request('open', [ino, { uid: 0, gid: 0, opId: this.newOpId() }]).catch(() => undefined);
      }
    }
  }

  /** What the server pushed (or null: changes were missed); see MetaStore.watch. */
  deliverChanges(changes: Changes | null): void {
    for (const l of this.listeners) l(changes);
  }

  watch(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  hearsChanges(): boolean {
    return this.rpc.hearing;
  }

  private newOpId(): string {
    return `${this.opPrefix}:${++this.opSeq}`;
  }

  private async invoke<T>(op: MetaOpName, args: unknown[]): Promise<T> {
    const spec = META_OPS[op];
    const ci = ctxIndex(spec);
    const ctx = { ...(args[ci] as OpContext) };
    delete ctx.sessionId; // the server decides the session
    if (spec.mutating && !ctx.opId) ctx.opId = this.newOpId();
    args[ci] = ctx;
    while (args.length > 0 && args[args.length - 1] === undefined) args.pop();
    return (await this.rpc.call(op, args)) as T;
  }

  private hold(ino: number, delta: number): void {
    const n = (this.holds.get(ino) ?? 0) + delta;
    if (n > 0) this.holds.set(ino, n); else this.holds.delete(ino);
  }

  lookup(parent: number, name: string, ctx: OpContext): Promise<Attr> { return this.invoke('lookup', [parent, name, ctx]); }
  getattr(ino: number, ctx: OpContext): Promise<Attr> { return this.invoke('getattr', [ino, ctx]); }
  setattr(ino: number, changes: SetAttrChanges, ctx: OpContext): Promise<Attr> { return this.invoke('setattr', [ino, changes, ctx]); }
  mknod(parent: number, name: string, mode: number, rdev: number, ctx: OpContext): Promise<Attr> {
    return this.invoke('mknod', [parent, name, mode, rdev, ctx]);
  }
  async create(parent: number, name: string, mode: number, ctx: OpContext, open?: boolean): Promise<Attr> {
    const attr = await this.invoke<Attr>('create', [parent, name, mode, ctx, open]);
    if (open) this.hold(attr.ino, 1);
    return attr;
  }
  mkdir(parent: number, name: string, mode: number, ctx: OpContext): Promise<Attr> { return this.invoke('mkdir', [parent, name, mode, ctx]); }
  symlink(parent: number, name: string, target: string, ctx: OpContext): Promise<Attr> {
    return this.invoke('symlink', [parent, name, target, ctx]);
  }
  readlink(ino: number, ctx: OpContext): Promise<string> { return this.invoke('readlink', [ino, ctx]); }
  link(ino: number, newParent: number, newName: string, ctx: OpContext): Promise<Attr> {
    return this.invoke('link', [ino, newParent, newName, ctx]);
  }
  async unlink(parent: number, name: string, ctx: OpContext): Promise<void> { await this.invoke('unlink', [parent, name, ctx]); }
  async rmdir(parent: number, name: string, ctx: OpContext): Promise<void> { await this.invoke('rmdir', [parent, name, ctx]); }
  async rename(parent: number, name: string, newParent: number, newName: string, ctx: OpContext,
    flags?: { noReplace?: boolean; exchange?: boolean }): Promise<void> {
    await this.invoke('rename', [parent, name, newParent, newName, ctx, flags]);
  }
  async readdir(ino: number, ctx: OpContext, cursor?: string, limit?: number): Promise<DirPage> {
    const page = await this.invoke<DirPage>('readdir', [ino, ctx, cursor, limit]);
    if (page.next === undefined || page.next === null) delete page.next;
    return page;
  }
  /** A server older than directory quotas takes no inode: asked again without it (volume-wide). */
  private statfsTakesIno = true;
  async statfs(ctx: OpContext, ino?: number): Promise<StatFs> {
    if (ino === undefined || !this.statfsTakesIno) return this.invoke('statfs', [ctx]);
    try {
      return await this.invoke<StatFs>('statfs', [ctx, ino]);
    } catch (e) {
      if (!isFsError(e, 'EINVAL') || !/takes at most/.test(e.message)) throw e;
      this.statfsTakesIno = false;
      return this.invoke('statfs', [ctx]);
    }
  }
  getxattr(ino: number, name: string, ctx: OpContext): Promise<Buffer> { return this.invoke('getxattr', [ino, name, ctx]); }
  async setxattr(ino: number, name: string, value: Buffer, flags: number, ctx: OpContext): Promise<void> {
    await this.invoke('setxattr', [ino, name, value, flags, ctx]);
  }
  listxattr(ino: number, ctx: OpContext): Promise<string[]> { return this.invoke('listxattr', [ino, ctx]); }
  async removexattr(ino: number, name: string, ctx: OpContext): Promise<void> { await this.invoke('removexattr', [ino, name, ctx]); }
  async open(ino: number, ctx: OpContext): Promise<Attr> {
    const attr = await this.invoke<Attr>('open', [ino, ctx]);
    this.hold(ino, 1);
    return attr;
  }
  async release(ino: number, ctx: OpContext): Promise<void> {
    await this.invoke('release', [ino, ctx]);
    this.hold(ino, -1);
  }
  commit(req: CommitRequest, ctx: OpContext): Promise<Attr> { return this.invoke('commit', [req, ctx]); }
  blocks(ino: number, fromIndex: number, count: number, ctx: OpContext): Promise<BlockRef[]> {
    return this.invoke('blocks', [ino, fromIndex, count, ctx]);
  }
  allocIds(count: number, ctx: OpContext): Promise<number> { return this.invoke('allocIds', [count, ctx]); }
  getlk(ino: number, owner: string, lock: LockRange, ctx: OpContext): Promise<LockRange> {
    return this.invoke('getlk', [ino, owner, lock, ctx]);
  }
  async setlk(ino: number, owner: string, lock: LockRange, wait: boolean, ctx: OpContext): Promise<void> {
    await this.invoke('setlk', [ino, owner, lock, wait, ctx]);
  }
  async flock(ino: number, owner: string, operation: number, ctx: OpContext): Promise<void> {
    await this.invoke('flock', [ino, owner, operation, ctx]);
  }
  async releaseLocks(ino: number, owner: string, kind: 'posix' | 'flock', ctx: OpContext): Promise<void> {
    await this.invoke('releaseLocks', [ino, owner, kind, ctx]);
  }
  async settings(): Promise<VolumeSettings> { return this.rpc.settings; }
  close(): Promise<void> { return this.rpc.close(); }
}
