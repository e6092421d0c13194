#!/usr/bin/env node
// Build flexfs's FUSE addon (binding.gyp → build/Release/flexfs_fuse.node) against libfuse3-dev,
// then check it loads. Run by `npm ci` (package.json "install") or by hand:
//   node scripts/build-fuse-addon.mjs
// Needs g++, make, python3, pkg-config and libfuse3-dev (scripts/setup.sh installs them).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
function die(msg) {
  console.error(`build-fuse-addon: ${msg}`);
  process.exit(1);
}

if (spawnSync('pkg-config', ['--exists', 'fuse3']).status !== 0) {
  die('libfuse3 development files not found (pkg-config fuse3): apt-get install libfuse3-dev pkg-config fuse3');
}
// node-gyp: the project's, else the one bundled with npm, else npx.
const candidates = [
  join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
];
const gyp = candidates.find((p) => existsSync(p));
const args = ['rebuild'];
// Build against the installed Node headers when present (no download needed).
const prefix = resolve(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
const r = gyp
  ? spawnSync(process.execPath, [gyp, ...args], { cwd: root, stdio: 'inherit' })
  : spawnSync('npx', ['--yes', 'node-gyp', ...args], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) die('node-gyp rebuild failed (needs g++, make, python3, pkg-config, libfuse3-dev)');

const check = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(join(root, 'build', 'Release', 'flexfs_fuse.node'))})`], { encoding: 'utf8' });
if (check.status !== 0) die(`the addon was built but does not load:\n${check.stderr}`);
console.log('build-fuse-addon: build/Release/flexfs_fuse.node ok');
