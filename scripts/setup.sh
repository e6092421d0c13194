#!/usr/bin/env bash
# Installs everything flexfs needs to build, mount and run its test suite on Debian 12:
# the Debian packages (FUSE 3 runtime and headers for flexfs's FUSE addon, acl for the ACL tests,
# redis-server, Ceph RGW for the S3 tests, fio, attr, rsync), the npm dependencies (npm ci: native
# modules are built because package.json lists them under allowScripts, and its install script
# builds the FUSE addon against libfuse3), then compiles TypeScript.
# Idempotent: safe to run again. Needs root for apt-get (uses sudo when not root).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

PACKAGES=(make g++ python3 pkg-config systemd fuse3 libfuse3-dev acl redis-server ceph-mon ceph-osd ceph-common radosgw fio attr rsync util-linux)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian's redis-server package starts a system instance; the tests start their own on free
# ports and do not need it, but it does no harm either.

if [ ! -e /dev/fuse ]; then
  echo "setup: /dev/fuse is missing: load the fuse module (modprobe fuse)" >&2
  exit 1
fi

echo "setup: npm ci"
npm ci --no-audit --no-fund
echo "setup: building"
npm run build
echo "setup: done"
