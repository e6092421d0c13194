import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../harness/build.js';

const run = promisify(execFile);
const SETUP = join(REPO_ROOT, 'scripts/setup.sh');
const TEST_ONLY = ['redis-server', 'ceph-mon', 'ceph-osd', 'radosgw', 'fio', 'acl', 'attr', 'rsync'];
const MOUNT = ['fuse3', 'libfuse3-dev', 'make', 'g++', 'python3', 'pkg-config'];

/** The package list `setup.sh --dry-run` prints (it installs nothing). */
async function plannedPackages(...args: string[]): Promise<string[]> {
  const { stdout } = await run('bash', [SETUP, ...args, '--dry-run'], { timeout: 60_000 });
  const line = /^setup: Debian packages: (.*)$/m.exec(stdout);
  expect(line, stdout).not.toBeNull();
  expect(stdout).toMatch(/^setup: missing: /m);
  return line![1].split(' ');
}

/** The fenced sh blocks of the README's "Fresh machine" section. */
async function freshMachineCommands(): Promise<string[]> {
  const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Fresh machine'));
  expect(section, 'README has a "Fresh machine" section').toBeDefined();
  return [...section!.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1].trim());
}

describe('scripts/setup.sh: the quick start installs what a mount needs, --tests what the tests need', () => {
  it('without --tests: only FUSE 3 and the build tools', async () => {
    const pk = await plannedPackages();
    expect(pk.sort()).toEqual([...MOUNT].sort());
  });

  it('--tests: the mount packages plus redis, Ceph, fio and the test tools', async () => {
    const pk = await plannedPackages('--tests');
    for (const p of [...MOUNT, ...TEST_ONLY]) expect(pk, p).toContain(p);
  });

  it('refuses an unknown argument with exit code 2, naming it', async () => {
    const r = await run('bash', [SETUP, '--test'], { timeout: 30_000 }).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown argument "--test"/);
  });

  it('README "Fresh machine" has exactly two set-up commands, and CI runs the second verbatim', async () => {
    const [quickStart, tests, ...rest] = await freshMachineCommands();
    expect(rest).toEqual([]);
    expect(quickStart).toMatch(/^\.\/scripts\/setup\.sh && mkdir -p \/mnt\/flexfs && \.\/bin\/mount\.flexfs start demo /);
    expect(tests).toBe('./scripts/setup.sh --tests && npm test');
    const ci = (await readFile(join(REPO_ROOT, '.ci/run'), 'utf8')).split('\n').filter((l) => l.trim() && !l.startsWith('#'));
    expect(ci[ci.length - 1]).toBe(tests);
  });
});
