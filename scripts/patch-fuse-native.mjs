#!/usr/bin/env node
// Apply patches/fuse-native-2.2.6.patch to node_modules/fuse-native (idempotent), rebuild the
// binding with node-gyp against fuse-shared-library's headers/lib, and check the new binding
// loads in a fresh process. Run from package.json "postinstall" or by hand:
//   node scripts/patch-fuse-native.mjs [--force-rebuild]
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const patchFile = join(root, 'patches', 'fuse-native-2.2.6.patch');
const MARKER = 'flexfs_patch_level';
const forceRebuild = process.argv.includes('--force-rebuild');

function die(msg) {
  console.error(`patch-fuse-native: ${msg}`);
  process.exit(1);
}
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.error) die(`${cmd} could not run: ${r.error.message}`);
  return r.status === 0;
}

const require = createRequire(join(root, 'package.json'));
let dir;
try {
  dir = dirname(require.resolve('fuse-native/package.json'));
} catch {
  die('fuse-native is not installed (npm install first)');
}
const version = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
if (version !== '2.2.6') die(`fuse-native ${version} found; the patch is for 2.2.6`);

// The level the patch file brings, and the level (if any) already applied to the sources.
const WANT = Number(/flexfs_patch_level = (\d+)/.exec(readFileSync(patchFile, 'utf8'))?.[1]);
if (!WANT) die(`${patchFile} has no ${MARKER}`);
const levelIn = (f) => Number(new RegExp(`${MARKER} = (\\d+)`).exec(readFileSync(join(dir, f), 'utf8'))?.[1] ?? 0);
const FILES = ['fuse-native.c', 'index.js'];
let applied = levelIn('fuse-native.c');
if (applied && applied !== WANT) {
  // An older (or newer) flexfs patch: go back to the pristine sources patch -b kept, then reapply.
  if (!FILES.every((f) => existsSync(join(dir, `${f}.orig`)))) {
    die(`${dir} carries flexfs patch level ${applied}, not ${WANT}, and no pristine copy; reinstall fuse-native (rm -rf node_modules/fuse-native && npm ci)`);
  }
  for (const f of FILES) copyFileSync(join(dir, `${f}.orig`), join(dir, f));
  console.log(`patch-fuse-native: removed patch level ${applied}`);
  applied = 0;
}
const cApplied = applied === WANT;
if (!cApplied && readFileSync(join(dir, 'index.js'), 'utf8').includes(MARKER)) {
  die(`${dir} is half patched; reinstall fuse-native (npm ci) and rerun`);
}

if (!cApplied) {
  if (!run('patch', ['-p1', '--forward', '--batch', '--dry-run', '--silent', '-i', patchFile], { cwd: dir })) {
    die(`the patch does not apply cleanly to ${dir}`);
  }
  // -b keeps the pristine files as *.orig so a later patch level can be applied over them.
  if (!run('patch', ['-p1', '--forward', '--batch', '-b', '-i', patchFile], { cwd: dir })) die('patch failed');
  console.log(`patch-fuse-native: patch level ${WANT} applied`);
} else {
  console.log(`patch-fuse-native: patch level ${WANT} already applied`);
}

// Does a fresh process load the patched binding (build/Release wins over the stock prebuilds)?
function bindingLevel() {
  const r = spawnSync(process.execPath, ['-e', `process.stdout.write(String(require(${JSON.stringify(dir)}).FLEXFS_PATCH_LEVEL))`],
    { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout) : 0;
}

if (forceRebuild || !cApplied || bindingLevel() !== WANT) {
  // node-gyp: the project's, else the one bundled with npm, else npx.
  const candidates = [
    join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  const gyp = candidates.find((p) => existsSync(p));
  const args = ['rebuild'];
  // Build against the installed Node headers when present (no download needed).
  const prefix = resolve(dirname(process.execPath), '..');
  if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
    args.push(`--nodedir=${prefix}`);
  }
  const ok = gyp ? run(process.execPath, [gyp, ...args], { cwd: dir }) : run('npx', ['--yes', 'node-gyp', ...args], { cwd: dir });
  if (!ok) die('node-gyp rebuild failed (needs gcc, make, python3)');
}

const level = bindingLevel();
if (level !== WANT) die(`the rebuilt binding does not load or is not patch level ${WANT} (got ${level})`);
console.log(`patch-fuse-native: fuse-native binding ok (flexfs patch level ${level})`);
