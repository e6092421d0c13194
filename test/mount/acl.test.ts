import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constants as C, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { StartedMount } from '../harness/mount.js';
import { ALICE, BOB, buildMountClient, fsAs, mountLocal, ok, run, runAs, workDir } from './helpers.js';
import { covers } from './semantics-doc.js';

/**
 * POSIX ACLs through a REAL mount (`mount.flexfs start --local`, ACLs on by default) driven by the
 * real tools: cp -a, getfacl/setfacl, setpriv for other users, python's os.setxattr for raw values.
 * A second mount of the same volume with --no-acl checks the switch.
 */
describe('POSIX ACLs through a real mount', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let m: StartedMount;
  let noAcl: StartedMount | undefined;
  let mp: string;
  let local: string;
  let home: string;
  const p = (...parts: string[]) => join(mp, ...parts);

  beforeAll(async () => {
    await buildMountClient();
    dir = await workDir('flexfs-macl-');
    local = join(dir.path, 'local');
    home = join(dir.path, 'home');
    mp = join(dir.path, 'mnt');
    m = await mountLocal(mp, { local, home });
    await fsp.chmod(mp, 0o755);
  });

  afterAll(async () => {
    await noAcl?.stop();
    await m?.stop();
    await dir?.cleanup();
  });

  /** A tree outside the mount with 0644/0600/0664 files and 0755/0700/0750/2775 directories. */
  async function sourceTree(name: string): Promise<{ root: string; modes: string }> {
    const root = join(dir.path, name);
    await fsp.mkdir(join(root, 'd755', 'inner'), { recursive: true });
    await fsp.mkdir(join(root, 'd700'));
    await fsp.mkdir(join(root, 'd2775'));
    await fsp.writeFile(join(root, 'f644'), 'public');
    await fsp.writeFile(join(root, 'd700', 'f600'), 'private');
    await fsp.writeFile(join(root, 'd2775', 'f664'), 'group');
    const modes: [string, number][] = [
      ['f644', 0o644], ['d700/f600', 0o600], ['d2775/f664', 0o664], ['d755/inner', 0o750], ['d755', 0o755],
      ['d700', 0o700], ['d2775', 0o2775], ['.', 0o755],
    ];
    for (const [rel, mode] of modes) await fsp.chmod(join(root, rel), mode);
    return { root, modes: await modeList(root) };
  }

  async function modeList(root: string): Promise<string> {
    return (await ok('find', [root, '-printf', '%m %P\n'])).split('\n').filter(Boolean).sort().join('\n');
  }

  it('cp -a keeps every mode (0644, 0600, 0755, 0700, 0750, setgid 2775) and others can read what is public', async () => {
    covers('acl-modes');
    const src = await sourceTree('tree-a');
    await ok('cp', ['-a', src.root, p('copy')]);
    expect(await modeList(p('copy'))).toBe(src.modes);
    expect(await fsAs(ALICE, 'readFile', p('copy', 'f644'))).toEqual({ result: 'OK', value: 'public' });
    expect((await fsAs(ALICE, 'readdir', p('copy', 'd755'))).result).toBe('OK');
    expect((await fsAs(ALICE, 'readdir', p('copy', 'd700'))).result).toBe('EACCES');
    // cp -p takes the same path; modes equal to an ACL are not stored as ACLs (as ext4).
    await ok('cp', ['-p', join(src.root, 'd2775', 'f664'), p('copy-p')]);
    expect((await fsp.stat(p('copy-p'))).mode & 0o7777).toBe(0o664);
    expect((await run('getfattr', ['-n', 'system.posix_acl_access', p('copy-p')])).stderr).toMatch(/No such attribute/);
  });

  it('rsync -aA and tar --acls carry modes and ACL entries into the mount', async () => {
    covers('acl-modes', 'acl-stored');
    const src = await sourceTree('tree-r');
    const shared = join(src.root, 'd755', 'shared');
    await fsp.writeFile(shared, 'for alice');
    await fsp.chmod(shared, 0o640);
    await ok('setfacl', ['-m', 'u:1000:rw', shared]);
    await ok('setfacl', ['-d', '-m', 'u:1000:rx', join(src.root, 'd2775')]);
    // Every path's ACL, in path order (the two sides list directories in different orders).
    const acls = async (root: string) => ok('sh', ['-c',
      `cd '${root}' && find . | LC_ALL=C sort | while read -r f; do echo "# $f"; getfacl -n -p --omit-header "$f"; done`]);
    const want = { modes: await modeList(src.root), acls: await acls(src.root) };
    await ok('rsync', ['-aA', `${src.root}/`, p('rsync-copy')]);
    expect({ modes: await modeList(p('rsync-copy')), acls: await acls(p('rsync-copy')) }).toEqual(want);
    const tarball = join(dir.path, 'tree-r.tar');
    await ok('tar', ['--acls', '-cf', tarball, '-C', src.root, '.']);
    await fsp.mkdir(p('tar-copy'));
    await ok('tar', ['--acls', '-xpf', tarball, '-C', p('tar-copy')]);
    expect({ modes: await modeList(p('tar-copy')), acls: await acls(p('tar-copy')) }).toEqual(want);
    expect(await fsAs(ALICE, 'readFile', p('tar-copy', 'd755', 'shared'))).toEqual({ result: 'OK', value: 'for alice' });
  });

  it('getfacl/setfacl round trip: the mode follows the mask, chmod updates the mask, setfacl -b removes', async () => {
    covers('acl-modes', 'acl-stored');
    const f = p('rt');
    await fsp.writeFile(f, 'x');
    await fsp.chmod(f, 0o640);
    await ok('setfacl', ['-m', 'u:1000:rw,g:2000:r', f]);
    expect(await ok('getfacl', ['-n', '--omit-header', f])).toBe(
      'user::rw-\nuser:1000:rw-\ngroup::r--\ngroup:2000:r--\nmask::rw-\nother::---\n\n');
    expect((await fsp.stat(f)).mode & 0o777).toBe(0o660); // group bits = mask
    await fsp.chmod(f, 0o604);
    expect(await ok('getfacl', ['-n', '--omit-header', f])).toBe(
      'user::rw-\nuser:1000:rw-\t#effective:---\ngroup::r--\t#effective:---\ngroup:2000:r--\t#effective:---\nmask::---\nother::r--\n\n');
    // The ACL survives a copy with its entries (getfacl | setfacl --restore style, via cp -a).
    await ok('cp', ['-a', f, p('rt-copy')]);
    expect(await ok('getfacl', ['-n', '--omit-header', p('rt-copy')])).toBe(await ok('getfacl', ['-n', '--omit-header', f]));
    await ok('setfacl', ['-b', f]);
    expect((await run('getfattr', ['-n', 'system.posix_acl_access', f])).stderr).toMatch(/No such attribute/);
    expect((await fsp.stat(f)).mode & 0o777).toBe(0o604);
    // Only the owner or root may change an ACL.
    await fsp.chown(f, 1000, 1000);
    expect((await runAs(BOB, 'setfacl', ['-m', 'u:1001:rw', f])).stderr).toMatch(/Operation not permitted/);
    expect((await runAs(ALICE, 'setfacl', ['-m', 'u:1001:rw', f])).code).toBe(0);
  });

  it('a named-user entry grants uid 1000 what the mode does not; the mask takes it away', async () => {
    covers('acl-check');
    const f = p('granted');
    await fsp.writeFile(f, 'for alice');
    await fsp.chmod(f, 0o600);
    expect((await fsAs(ALICE, 'readFile', f)).result).toBe('EACCES');
    await ok('setfacl', ['-m', 'u:1000:rw', f]);
    expect(await fsAs(ALICE, 'readFile', f)).toEqual({ result: 'OK', value: 'for alice' });
    expect((await fsAs(ALICE, 'writeAt', f, 'F', 0)).result).toBe('OK');
    expect((await fsAs(ALICE, 'access', f, C.R_OK | C.W_OK)).result).toBe('OK');
    expect((await fsAs(BOB, 'readFile', f)).result).toBe('EACCES');
    await ok('setfacl', ['-m', 'm::r', f]);
    expect((await fsAs(ALICE, 'writeAt', f, 'G', 0)).result).toBe('EACCES');
    expect((await fsAs(ALICE, 'access', f, C.W_OK)).result).toBe('EACCES');
    await ok('setfacl', ['-m', 'm::-', f]);
    expect((await fsAs(ALICE, 'readFile', f)).result).toBe('EACCES');
    // A named group (through a supplementary group) and directories: search and listing.
    const d = p('gdir');
    await fsp.mkdir(d);
    await fsp.writeFile(join(d, 'inside'), 'in');
    await fsp.chmod(d, 0o700);
    expect((await fsAs({ ...ALICE, groups: [2000] }, 'readdir', d)).result).toBe('EACCES');
    await ok('setfacl', ['-m', 'g:2000:rx', d]);
    expect(await fsAs({ ...ALICE, groups: [2000] }, 'readdir', d)).toEqual({ result: 'OK', value: ['inside'] });
    expect((await fsAs(ALICE, 'readdir', d)).result).toBe('EACCES');
    expect((await runAs({ ...ALICE, groups: [2000] }, 'sh', ['-c', `cd ${d} && cat inside`])).stdout).toBe('in');
    // Execute: an x granted by a named entry runs the program; r alone does not.
    const prog = p('prog');
    await fsp.copyFile('/bin/true', prog);
    await fsp.chmod(prog, 0o744);
    expect((await runAs(ALICE, prog, [])).code).not.toBe(0);
    await ok('setfacl', ['-m', 'u:1000:x', prog]);
    expect((await runAs(ALICE, prog, [])).code).toBe(0);
  });

  it('without ACL entries flexfs enforces the mode itself: exec, chdir, access(2), open, namespace ops', async () => {
    covers('acl-check');
    const prog = p('prog711');
    await fsp.copyFile('/bin/true', prog);
    await fsp.chmod(prog, 0o711);
    expect((await runAs(ALICE, prog, [])).code).toBe(0); // execute without read
    expect((await fsAs(ALICE, 'readFile', prog)).result).toBe('EACCES');
    await fsp.chmod(prog, 0o744);
    expect((await runAs(ALICE, prog, [])).code).not.toBe(0);
    await fsp.mkdir(p('d711'));
    await fsp.chmod(p('d711'), 0o711);
    await fsp.mkdir(p('d700'));
    await fsp.chmod(p('d700'), 0o700);
    expect((await runAs(ALICE, 'sh', ['-c', `cd ${p('d711')} && echo in`])).stdout).toBe('in\n');
    expect((await runAs(ALICE, 'sh', ['-c', `cd ${p('d700')} && echo in`])).code).not.toBe(0);
    expect((await fsAs(ALICE, 'readdir', p('d711'))).result).toBe('EACCES');
    expect((await fsAs(ALICE, 'access', p('d700'), C.X_OK)).result).toBe('EACCES');
    expect((await fsAs(ALICE, 'access', p('d711'), C.X_OK)).result).toBe('OK');
    expect((await fsAs(ALICE, 'writeFile', p('d711', 'x'), 'x')).result).toBe('EACCES');
    await fsp.writeFile(p('d711', 'file'), 'x');
    await fsp.chmod(p('d711', 'file'), 0o666);
    expect((await fsAs(ALICE, 'writeAt', p('d711', 'file'), 'y', 0)).result).toBe('OK');
    expect((await fsAs(ALICE, 'unlink', p('d711', 'file'))).result).toBe('EACCES');
    expect((await fsAs(ALICE, 'readFile', p('d700', 'nothing'))).result).toBe('EACCES');
    // protected_hardlinks: a file alice may not read and write is not hers to link.
    await fsp.mkdir(p('open'), { mode: 0o777 });
    await fsp.chmod(p('open'), 0o777);
    await fsp.writeFile(p('open', 'roots'), 'r');
    await fsp.chmod(p('open', 'roots'), 0o644);
    expect((await fsAs(ALICE, 'link', p('open', 'roots'), p('open', 'mine'))).result).toBe('EPERM');
    // Moving a directory to another parent needs write permission on it (its ".." changes).
    await fsp.mkdir(p('open', 'rootdir'), { mode: 0o755 });
    await fsp.mkdir(p('open2'), { mode: 0o777 });
    await fsp.chmod(p('open2'), 0o777);
    expect((await fsAs(ALICE, 'rename', p('open', 'rootdir'), p('open2', 'moved'))).result).toBe('EACCES');
    expect((await fsAs(ALICE, 'rename', p('open', 'rootdir'), p('open', 'renamed'))).result).toBe('OK');
  });

  it('--umask: the checks use the mode as the mount reports it', async () => {
    covers('perm-umask');
    await fsp.writeFile(p('umasked'), 'x');
    await fsp.chmod(p('umasked'), 0o644);
    const mp3 = join(dir.path, 'umask');
    const masked = await mountLocal(mp3, { local, home, args: ['--umask', '077'] });
    try {
      expect((await fsp.stat(join(mp3, 'umasked'))).mode & 0o777).toBe(0o600);
      expect((await fsAs(ALICE, 'readFile', join(mp3, 'umasked'))).result).toBe('EACCES');
      expect((await fsAs(ALICE, 'readFile', p('umasked'))).result).toBe('OK');
    } finally {
      await masked.stop();
    }
  });

  it('a default ACL is inherited by new files and subdirectories and masks their mode', async () => {
    covers('acl-default');
    const d = p('inherit');
    await fsp.mkdir(d, { mode: 0o755 });
    await ok('setfacl', ['-d', '-m', 'u:1000:rwx,g::rx,o::-', d]);
    await fsp.writeFile(join(d, 'file'), 'inherited', { mode: 0o644 });
    await fsp.mkdir(join(d, 'sub'), { mode: 0o755 });
    // Other is masked away by the default ACL (o::-); user 1000 reads through the inherited entry.
    expect((await fsp.stat(join(d, 'file'))).mode & 0o777).toBe(0o640);
    expect(await ok('getfacl', ['-n', '--omit-header', join(d, 'file')])).toBe(
      'user::rw-\nuser:1000:rwx\t#effective:r--\ngroup::r-x\t#effective:r--\nmask::r--\nother::---\n\n');
    expect(await fsAs(ALICE, 'readFile', join(d, 'file'))).toEqual({ result: 'OK', value: 'inherited' });
    expect((await fsAs(BOB, 'readFile', join(d, 'file'))).result).toBe('EACCES');
    // Under a default ACL the umask does not apply (POSIX.1e, as ext4): the ACL masks the mode.
    await ok('sh', ['-c', `umask 022; touch '${join(d, 'touched')}'`]);
    expect((await fsp.stat(join(d, 'touched'))).mode & 0o777).toBe(0o660);
    expect(await ok('getfacl', ['-n', '--omit-header', join(d, 'touched')])).toContain('mask::rw-\n');
    // Outside one it does.
    await ok('sh', ['-c', `umask 027; touch '${p('new-umask027')}'; mkdir '${p('new-umask027-dir')}'`]);
    expect((await fsp.stat(p('new-umask027'))).mode & 0o777).toBe(0o640);
    expect((await fsp.stat(p('new-umask027-dir'))).mode & 0o777).toBe(0o750);
    // A subdirectory inherits the default ACL as its access and its default ACL.
    expect((await fsp.stat(join(d, 'sub'))).mode & 0o777).toBe(0o750);
    const sub = await ok('getfacl', ['-n', '--omit-header', join(d, 'sub')]);
    expect(sub).toContain('user:1000:rwx\t#effective:r-x\n');
    expect(sub).toContain('default:user:1000:rwx\n');
    await fsp.writeFile(join(d, 'sub', 'deeper'), 'x', { mode: 0o644 });
    expect(await ok('getfacl', ['-n', '--omit-header', join(d, 'sub', 'deeper')])).toContain('user:1000:rwx');
    // Files alice creates there are hers, with the inherited entries.
    expect((await fsAs(ALICE, 'writeFile', join(d, 'sub', 'by-alice'), 'a')).result).toBe('EACCES'); // mask r-x
    await ok('setfacl', ['-m', 'm::rwx', join(d, 'sub')]);
    expect((await fsAs(ALICE, 'writeFile', join(d, 'sub', 'by-alice'), 'a')).result).toBe('OK');
    expect((await fsp.stat(join(d, 'sub', 'by-alice'))).uid).toBe(1000);
    // Default ACLs exist only on directories.
    expect((await run('setfacl', ['-d', '-m', 'u:1000:r', join(d, 'file')])).code).not.toBe(0);
    expect((await run('python3', ['-c', SET_DEFAULT_ON_FILE, join(d, 'file')])).stdout.trim()).toBe('EACCES');
  });

  it('malformed ACL values are EINVAL', async () => {
    covers('acl-stored');
    const f = p('malformed');
    await fsp.writeFile(f, 'x');
    // Duplicate named entries: the kernel passes these on, flexfs refuses them.
    const out = JSON.parse(await ok('python3', ['-c', MALFORMED, f]));
    expect(out).toEqual({ duplicate: 'EINVAL', stored: 'ENODATA' });
  });

  it('--no-acl: setfacl fails with EOPNOTSUPP, cp -a still keeps modes, stored ACLs are hidden', async () => {
    covers('acl-flag');
    const mp2 = join(dir.path, 'noacl');
    noAcl = await mountLocal(mp2, { local, home, args: ['--no-acl'] });
    const info = await fsp.readFile('/proc/self/mountinfo', 'utf8');
    expect(info.split('\n').find((l) => l.includes(` ${mp2} `))).toMatch(/default_permissions/);
    await fsp.writeFile(join(mp2, 'plain'), 'x');
    const r = await run('setfacl', ['-m', 'u:1000:r', join(mp2, 'plain')]);
    expect(r.stderr).toMatch(/Operation not supported/);
    const src = await sourceTree('tree-b');
    await ok('cp', ['-a', src.root, join(mp2, 'copy-b')]);
    expect(await modeList(join(mp2, 'copy-b'))).toBe(src.modes);
    // The ACL set through the other mount is neither listed nor readable here.
    expect(await ok('getfattr', ['-m', '-', '-d', join(mp2, 'granted')])).not.toMatch(/posix_acl/);
    expect((await run('getfattr', ['-n', 'system.posix_acl_access', join(mp2, 'granted')])).stderr).toMatch(/Operation not supported/);
    await noAcl.stop();
    noAcl = undefined;
  });
});

// setxattr(2) of a default ACL on a regular file: EACCES (Linux).
const SET_DEFAULT_ON_FILE = `
import errno, os, struct, sys
value = struct.pack('<I', 2) + b''.join(struct.pack('<HHI', *e) for e in [(1, 6, 0xffffffff), (4, 4, 0xffffffff), (0x20, 4, 0xffffffff)])
try:
    os.setxattr(sys.argv[1], 'system.posix_acl_default', value); print('OK')
except OSError as e:
    print(errno.errorcode[e.errno])
`;

// A value with the same named user twice (valid otherwise): the kernel passes it to the FS.
const MALFORMED = `
import errno, json, os, struct, sys
f = sys.argv[1]
X = 0xffffffff
def val(entries): return struct.pack('<I', 2) + b''.join(struct.pack('<HHI', *e) for e in entries)
def err(fn):
    try: fn(); return 'OK'
    except OSError as e: return errno.errorcode[e.errno]
out = {}
out['duplicate'] = err(lambda: os.setxattr(f, 'system.posix_acl_access', val([(1, 6, X), (2, 4, 1000), (2, 4, 1000), (4, 4, X), (0x10, 4, X), (0x20, 4, X)])))
out['stored'] = err(lambda: os.getxattr(f, 'system.posix_acl_access'))
print(json.dumps(out))
`;
