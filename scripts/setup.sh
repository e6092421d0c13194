#!/usr/bin/env bash
# Installs what flexfs needs on Debian 12, then builds it:
#   scripts/setup.sh            what a mount needs: the FUSE 3 runtime and headers (fuse3,
#                               libfuse3-dev) and the tools npm ci needs to build flexfs's FUSE
#                               addon and native modules (make, g++, python3, pkg-config)
#   scripts/setup.sh --tests    that plus what only the test suite needs: redis-server, Ceph
#                               (mon, osd, radosgw) for the S3 tests, fio, acl, attr, rsync, systemd
#                               (systemd-analyze for the unit checks)
#   --dry-run                   print the Debian packages it would install (and which are
#                               missing) and exit without changing anything
# Then `npm ci` (devDependencies included: tsc builds dist/; native modules are built because
# package.json lists them under allowScripts, and its install script builds the FUSE addon) and
# `npm run build`. Idempotent: safe to run again. Needs root for apt-get (uses sudo when not root).
set -euo pipefail
cd "$(dirname "$0")/.."

TESTS=0
DRY_RUN=0
for arg in "$@"; do
  case "$arg" in
    --tests) TESTS=1 ;;
    --dry-run) DRY_RUN=1 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup: unknown argument \"$arg\" (expected --tests and/or --dry-run; see --help)" >&2; exit 2 ;;
  esac
done

MOUNT_PACKAGES=(make g++ python3 pkg-config fuse3 libfuse3-dev)
TEST_PACKAGES=(systemd acl redis-server ceph-mon ceph-osd ceph-common radosgw fio attr rsync util-linux)
PACKAGES=("${MOUNT_PACKAGES[@]}")
if [ "$TESTS" = 1 ]; then PACKAGES+=("${TEST_PACKAGES[@]}"); fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "$DRY_RUN" = 1 ]; then
  echo "setup: Debian packages: ${PACKAGES[*]}"
  echo "setup: missing: ${missing[*]:-none}"
  echo "setup: then: npm ci, npm run build"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
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
