import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { REPO_ROOT } from '../harness/mount.js';

/**
 * Pins docs/SEMANTICS.md to tests. The doc's bullets are its claims; CLAIMS maps each bullet (by a
 * phrase it contains) to the test that exercises it:
 *  - `id` alone: a test in test/mount/semantics.test.ts calls covers(id) while it runs;
 *  - `file` + `id`: a test in that file calls covers(id) (checked statically, the suite runs apart);
 *  - `file` + `test`: a named test elsewhere (VFS-level suites for cache internals).
 * checkDocCoverage fails when a bullet matches no claim (new doc text without a test), when a claim
 * matches no bullet (the doc changed), or when a claimed test does not exist / did not run.
 */
interface Claim {
  match: RegExp;
  id?: string;
  file?: string;
  test?: string;
}

const MOUNT = 'test/mount';
const CLAIMS: Claim[] = [
  // Consistency: close-to-open
  { match: /^Writes land in the writing client's memory/, id: 'close-to-open' },
  { match: /^Opening a file revalidates its attributes/, id: 'close-to-open' },
  { match: /^Within one client, every handle of a file shares one open-file state/, id: 'shared-handles' },
  { match: /^Attribute and directory-entry caches have a short TTL/, id: 'attr-ttl' },
  { match: /^Concurrent writers on different clients: last commit wins/, id: 'last-commit-wins' },
  // Coherent caching
  { match: /^Every mount on meta\.flexfs hears what the other sessions/, file: `${MOUNT}/coherence.test.ts`, id: 'coherence-push' },
  { match: /^Every mount on meta\.flexfs hears what the other sessions/, file: 'test/meta-server/protocol.test.ts', test: 'a watcher hears every other session' },
  { match: /^Every mount on meta\.flexfs hears what the other sessions/, file: 'test/meta-server/changes-redis.test.ts', test: 'a mutation on one server reaches the watching session on the other' },
  { match: /^Every mount on meta\.flexfs hears what the other sessions/, file: 'test/meta-server/changes-redis.test.ts', test: 'when redis restarts, watchers are told' },
  { match: /^`--attrTTL` \/ `--entryTTL`/, file: `${MOUNT}/coherence.test.ts`, id: 'coherence-ttl' },
  { match: /^`--attrTTL` \/ `--entryTTL`/, file: 'src/cli/mount/ttl-flags.test.ts', test: 'bad values are refused' },
  { match: /^Page cache: a file's cached pages survive a close and reopen/, file: `${MOUNT}/coherence.test.ts`, id: 'coherence-pages' },
  { match: /^Directory listings: while a mount hears the other sessions' changes/, file: `${MOUNT}/coherence.test.ts`, id: 'coherence-listings' },
  { match: /^Directory listings: while a mount hears the other sessions' changes/, file: 'src/vfs/listings.test.ts', test: 'fetches nothing for a plain listing, and lists ahead once a walk shows' },
  { match: /^A mount that loses its connection to meta\.flexfs/, file: 'test/meta-server/protocol.test.ts', test: 'after a reconnect the watcher is told' },
  { match: /^A mount that loses its connection to meta\.flexfs/, file: `${MOUNT}/coherence.test.ts`, id: 'coherence-reconnect' },
  // Durability
  { match: /^`fsync\(\)` \(and `fdatasync\(\)`\) return only after/, file: `${MOUNT}/crash.test.ts`, id: 'fsync-durable' },
  { match: /^`fsync\(\)` \(and `fdatasync\(\)`\) return only after/, file: `${MOUNT}/sync.test.ts`, id: 'fdatasync' },
  { match: /^A failed upload makes `close\(\)`\/`fsync\(\)` fail with \*\*EIO\*\*/, file: `${MOUNT}/faults.test.ts`, id: 'upload-eio-retry' },
  { match: /^Unmount \(SIGTERM\/SIGINT, `destroy\(\)`\) flushes/, file: `${MOUNT}/integrity.test.ts`, id: 'unmount-flushes' },
  { match: /^A client crash loses writes that were not yet flushed/, file: `${MOUNT}/crash.test.ts`, id: 'fsync-durable' },
  { match: /^Directory operations .* are\s+committed by the metadata server/s, file: `${MOUNT}/crash.test.ts`, id: 'dirops-durable' },
  { match: /^Directory operations .* `fsyncdir` has nothing to add/s, file: `${MOUNT}/sync.test.ts`, id: 'fsyncdir' },
  { match: /^With the metadata on Redis Sentinel/, file: 'test/meta/redis-sentinel.test.ts', test: 'the server follows the promoted replica; every create a client had acknowledged is there' },
  { match: /^With the metadata on Redis Sentinel/, file: 'test/meta/redis-sentinel.test.ts', test: 'with minReplicas above the replicas there are, a mutation answers EIO' },
  // Failures and deadlines
  { match: /^Object store requests retry with backoff and jitter/, file: `${MOUNT}/faults.test.ts`, id: 'deadline-eio' },
  { match: /^Object store requests retry with backoff and jitter/, file: `${MOUNT}/outage.test.ts`, id: 'store-deadline' },
  { match: /^Unmount with dirty data the store does not take/, file: `${MOUNT}/recovery.test.ts`, id: 'unmount-recovery' },
  { match: /^A block that fails verification/, file: `${MOUNT}/integrity.test.ts`, id: 'corrupt-eio' },
  // Files
  { match: /^Max file size: 2\^50 bytes/, id: 'max-file-size' },
  { match: /^Volume capacity \(`capacityBytes`/, file: `${MOUNT}/capacity.test.ts`, id: 'enospc' },
  { match: /^Directory quotas \(`meta\.flexfs quota set/, file: `${MOUNT}/quota.test.ts`, id: 'quota-edquot' },
  { match: /^Directory quotas \(`meta\.flexfs quota set/, file: 'test/meta/conformance.ts', test: 'quotas: creating, writing, truncating and removing charge the quota' },
  { match: /^`df` \(statfs\) inside a quota directory/, file: `${MOUNT}/quota.test.ts`, id: 'quota-df' },
  { match: /^Rename across quota boundaries moves the usage exactly/, file: `${MOUNT}/quota.test.ts`, id: 'quota-rename' },
  { match: /^Rename across quota boundaries moves the usage exactly/, file: 'test/meta/conformance.ts', test: 'quotas: rename across boundaries moves usage exactly' },
  { match: /^Sparse files: holes/, id: 'sparse' },
  { match: /^`O_APPEND`/, id: 'append' },
  { match: /^`O_TRUNC` on open/, id: 'truncate' },
  { match: /^Writes and truncates by an unprivileged caller clear setuid/, id: 'killpriv' },
  { match: /^`O_DIRECT`/, id: 'odirect' },
  { match: /^`fallocate`: mode 0 grows the size/, id: 'fallocate' },
  { match: /^`fallocate`: mode 0 grows the size/, file: 'test/vfs/seek-fallocate.test.ts', test: 'a punch over local data: dirty and uploaded-but-uncommitted slots are dropped too' },
  { match: /^`lseek` `SEEK_DATA`\/`SEEK_HOLE`/, id: 'seek-data' },
  { match: /^`lseek` `SEEK_DATA`\/`SEEK_HOLE`/, file: 'test/vfs/seek-fallocate.test.ts', test: 'SEEK_DATA/SEEK_HOLE over committed and dirty slots; EOF is a hole; ENXIO at and past the end' },
  { match: /^`copy_file_range`: not implemented/, id: 'copy-file-range' },
  { match: /^Shared writable `mmap`/, id: 'mmap' },
  { match: /^Unlinking an open file/, id: 'unlink-open' },
  // Names and directories
  { match: /^Names: at most 255 bytes/, id: 'names-limits' },
  { match: /^`rename` is atomic and replaces/, id: 'rename' },
  { match: /^Hard links: regular files/, id: 'hardlinks' },
  { match: /^FIFOs, character\/block devices and sockets/, id: 'special-files' },
  { match: /^`readdir` returns entries sorted by name/, id: 'readdir-sorted' },
  // Ownership, permissions, times
  { match: /^Permission checks are flexfs's own/, id: 'perm-default' },
  { match: /^Permission checks are flexfs's own/, file: `${MOUNT}/acl.test.ts`, id: 'acl-check' },
  { match: /^Permission checks are flexfs's own/, file: `${MOUNT}/acl.test.ts`, id: 'perm-umask' },
  { match: /^`chmod`: owner or root/, id: 'chmod' },
  { match: /^`chown`: only root changes the owner/, id: 'chown' },
  { match: /^A directory whose owner changes its group to another group of its own/, id: 'chown-dir' },
  { match: /^`O_CREAT\|O_EXCL` by a non-root user in a sticky/, id: 'create-sticky' },
  { match: /^`utimens`: explicit times need owner or root/, id: 'utimens' },
  { match: /^`utimensat` with both times `UTIME_NOW`/, id: 'utimens-now' },
  { match: /^atime: `relatime`/, id: 'atime' },
  { match: /^Read-only mounts/, id: 'readonly' },
  // Extended attributes
  { match: /^Stored by the metadata server per inode/, id: 'xattrs' },
  { match: /^`user\.\*` needs read/, id: 'xattrs' },
  { match: /^The kernel reads `security\.capability` before every write/, file: 'test/vfs/semantics.test.ts', test: 'security.capability: a known absence costs no metadata call' },
  { match: /^POSIX ACLs \(`system\.posix_acl_access`/, file: `${MOUNT}/acl.test.ts`, id: 'acl-stored' },
  { match: /^An access ACL equal to the mode/, file: `${MOUNT}/acl.test.ts`, id: 'acl-modes' },
  { match: /^Access checks honour the ACL/, file: `${MOUNT}/acl.test.ts`, id: 'acl-check' },
  { match: /^Default ACLs exist on directories only/, file: `${MOUNT}/acl.test.ts`, id: 'acl-default' },
  { match: /^POSIX ACLs \(`system\.posix_acl_access`/, file: 'test/vfs/acl.test.ts', test: 'setting an ACL narrows the mode first' },
  { match: /^Default ACLs exist on directories only/, file: 'test/vfs/acl.test.ts', test: 'a new inode under a default ACL starts owner-only' },
  { match: /^`--no-acl` \(fstab `noacl`/, file: `${MOUNT}/acl.test.ts`, id: 'acl-flag' },
  // Scoped tokens and squash
  { match: /^A subdir token's session sees the subtree as the volume/, file: 'test/meta-server/scoped-tokens.test.ts', test: 'a subdir token sees the subtree as the volume' },
  { match: /^A subdir token's session sees the subtree as the volume/, file: 'test/meta-server/scoped-tokens.test.ts', test: 'a subdir session hears other sessions' },
  { match: /^A subdir token's session sees the subtree as the volume/, file: `${MOUNT}/identity.test.ts`, test: 'a subdir token' },
  { match: /^Every inode a subdir session names must lie in its subtree/, file: 'test/meta-server/scoped-tokens.test.ts', test: 'guessed inode numbers outside the subtree get ENOENT' },
  { match: /^Every inode a subdir session names must lie in its subtree/, file: 'test/meta-server/scoped-tokens.test.ts', test: 'the raw protocol gets the same answers' },
  { match: /^Every inode a subdir session names must lie in its subtree/, file: 'test/meta-server/scoped-tokens.test.ts', test: 'statfs of a subdir session answers for its subtree' },
  { match: /^A rename or hard link whose source or destination lies outside/, file: 'test/meta-server/scoped-tokens.test.ts', test: 'rename or link out of' },
  { match: /^A read-only token's session answers EROFS/, file: 'test/meta-server/scoped-tokens.test.ts', test: 'a read-only token gets EROFS for every kind of change' },
  { match: /^A read-only token's session answers EROFS/, file: `${MOUNT}/identity.test.ts`, test: 'a read-only token' },
  { match: /^An expired token \(`--expires`\) is refused/, file: 'test/meta-server/scoped-tokens.test.ts', test: 'an expired token is refused at connect' },
  { match: /^An expired token \(`--expires`\) is refused/, file: `${MOUNT}/identity.test.ts`, test: 'a mount with an expired token' },
  { match: /^Squash on a mount \(`--rootSquash uid:gid`/, file: `${MOUNT}/identity.test.ts`, test: '--rootSquash: a file root creates' },
  { match: /^Squash on a mount \(`--rootSquash uid:gid`/, file: `${MOUNT}/identity.test.ts`, test: 'allSquash (as a mount option' },
  { match: /^Squash on a mount \(`--rootSquash uid:gid`/, file: `${MOUNT}/identity.test.ts`, test: '--rootSquash works on a --local mount too' },
  { match: /^Squash on a mount \(`--rootSquash uid:gid`/, file: 'src/vfs/squash.test.ts', test: 'rootSquash maps uid 0 only' },
  { match: /^Squash by token \(`token create --rootSquash`/, file: 'test/meta-server/scoped-tokens.test.ts', test: 'squash by token' },
  { match: /^Squash by token \(`token create --rootSquash`/, file: `${MOUNT}/identity.test.ts`, test: 'a token' },
  // Locks
  { match: /^`fcntl` record locks \(F_SETLK, F_SETLKW, F_GETLK, `lockf`\) and `flock` are shared/, file: `${MOUNT}/locks.test.ts`, id: 'locks-shared' },
  { match: /^`fcntl` record locks \(F_SETLK, F_SETLKW, F_GETLK, `lockf`\) and `flock` are shared/, file: `${MOUNT}/locks.test.ts`, id: 'locks-flock' },
  { match: /^`fcntl` record locks \(F_SETLK, F_SETLKW, F_GETLK, `lockf`\) and `flock` are shared/, file: 'src/meta/locks/table.test.ts', test: 'merges touching locks of one type, splits on unlock, upgrades and downgrades a sub-range' },
  { match: /^`fcntl` record locks \(F_SETLK, F_SETLKW, F_GETLK, `lockf`\) and `flock` are shared/, file: 'test/meta/conformance.ts', test: 'locks: unlock splits, upgrade and downgrade of a sub-range, touching locks merge' },
  { match: /^F_GETLK on any mount reports a conflicting lock/, file: `${MOUNT}/locks.test.ts`, id: 'locks-getlk' },
  { match: /^A blocked F_SETLKW or `flock` \(without LOCK_NB\) waits/, file: `${MOUNT}/locks.test.ts`, id: 'locks-wait' },
  { match: /^A signal to a process waiting for a lock ends its wait/, file: `${MOUNT}/locks.test.ts`, id: 'locks-interrupt' },
  { match: /^A deadlock across mounts answers EDEADLK/, file: `${MOUNT}/locks.test.ts`, id: 'locks-deadlock' },
  { match: /^A deadlock across mounts answers EDEADLK/, file: 'test/meta/conformance.ts', test: 'F_SETLKW: a waiter is recorded, a wait-for cycle answers EDEADLK, the waiter gets through once freed' },
  { match: /^Locks go when their owner closes the file/, file: `${MOUNT}/locks.test.ts`, id: 'locks-kill' },
  { match: /^Locks go when their owner closes the file/, file: 'test/meta/engine-suite.ts', test: 'sessions: expiry and close release the fcntl and flock locks of that session only' },
  { match: /^Two `--local` mounts of one folder share its locks/, id: 'locks-local-dir' },
  // Time travel
  { match: /^An `--atTime` mount \(`mount\.flexfs start VOL MNT --atTime/, file: `${MOUNT}/time-travel.test.ts`, test: 'an --atTime mount reads the old bytes and listing' },
  { match: /^An `--atTime` mount \(`mount\.flexfs start VOL MNT --atTime/, file: 'test/meta/conformance.ts', test: 'as of a past time: inodes, entries, block slots and xattrs' },
  { match: /^An `--atTime` mount is read-only: every change fails with EROFS/, file: `${MOUNT}/time-travel.test.ts`, test: 'an --atTime mount reads the old bytes and listing' },
  { match: /^The instant must lie inside the volume's history window/, file: `${MOUNT}/time-travel.test.ts`, test: 'a time before the history window is refused' },
  { match: /^The instant must lie inside the volume's history window/, file: 'test/meta/conformance.ts', test: 'refuses a time outside the history window' },
  // Caching and memory: internals, exercised below the kernel by the VFS suites.
  { match: /^Memory block cache: decoded blocks by block id/, file: 'test/vfs/readpath.test.ts', test: 'concurrent reads of one block share one GET' },
  { match: /^Optional disk cache/, file: 'test/vfs/readpath.test.ts', test: 'the disk cache serves a second client' },
  { match: /^A reader that opens a directory's files one after another/, file: `${MOUNT}/readahead.test.ts`, test: 'a reader walking a directory' },
  { match: /^A reader that opens a directory's files one after another/, file: 'test/vfs/readpath.test.ts', test: 'a file changed by another client between the listing and its open reads as changed' },
  { match: /^A reader that opens a directory's files one after another/, file: 'src/vfs/file-prefetch.test.ts', test: 'a single open fetches nothing; the second consecutive open fetches the next' },
  { match: /^Sequential readers get readahead/, file: 'test/vfs/readpath.test.ts', test: 'sequential reads prefetch ahead' },
  { match: /^Dirty data is bounded by a global budget/, file: 'test/vfs/faults.test.ts', test: 'the dirty budget holds writers back' },
];

const covered = new Set<string>();

/** Mark doc claims as exercised by the running test (call it inside the test body). */
export function covers(...ids: string[]): void {
  for (const id of ids) covered.add(id);
}

/** Top-level bullets of the doc (continuation lines joined), with their section. */
export function docBullets(text: string): { section: string; text: string }[] {
  const out: { section: string; text: string }[] = [];
  let section = '';
  let cur: { section: string; text: string } | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('## ')) { section = line.slice(3).trim(); cur = undefined; continue; }
    if (line.startsWith('- ')) { cur = { section, text: line.slice(2).trim() }; out.push(cur); continue; }
    if (cur && /^\s+\S/.test(line)) { cur.text += ' ' + line.trim(); continue; }
    cur = undefined;
  }
  return out;
}

export async function checkDocCoverage(): Promise<void> {
  const doc = await readFile(join(REPO_ROOT, 'docs', 'SEMANTICS.md'), 'utf8');
  const bullets = docBullets(doc);
  expect(bullets.length).toBeGreaterThan(30);
  const unclaimed = bullets.filter((b) => !CLAIMS.some((c) => c.match.test(b.text))).map((b) => `[${b.section}] ${b.text.slice(0, 80)}`);
  expect(unclaimed, 'doc bullets without a test').toEqual([]);
  const stale = CLAIMS.filter((c) => !bullets.some((b) => c.match.test(b.text))).map((c) => String(c.match));
  expect(stale, 'claims whose doc bullet is gone').toEqual([]);
  const problems: string[] = [];
  for (const c of CLAIMS) {
    if (!c.file) {
      if (!covered.has(c.id!)) problems.push(`no test in semantics.test.ts covered "${c.id}"`);
      continue;
    }
    const src = await readFile(join(REPO_ROOT, c.file), 'utf8').catch(() => '');
    const needle = c.id ? `covers('${c.id}'` : `it('${c.test}`;
    if (!src.includes(needle) && !(c.id && new RegExp(`covers\\([^)]*'${c.id}'`).test(src))) problems.push(`${c.file} has no ${needle}`);
  }
  expect(problems).toEqual([]);
}
