#!/bin/sh
# Install (or uninstall) flexfs from a built checkout (npm ci && npm run build done):
#   /opt/flexfs/                      the package: dist/, node_modules/ (production dependencies only,
#                                     copied: no link back to the checkout), bin/, docs, units, fstab.example
#   /usr/sbin/{meta,proxy}.flexfs     daemon launchers
#   /usr/bin/flexfs                   operator CLI launcher
#   /sbin/mount.flexfs                mount.flexfs and the mount(8) helper (mount -t flexfs …)
#   /etc/systemd/system/              flexfs-meta.service, flexfs-proxy.service, flexfs-mount@.service
#   /etc/flexfs/{meta,proxy}.env      unit settings (only created when missing; never overwritten)
#   user "flexfs", /var/lib/flexfs    the daemons' user and state folder (flexfs:flexfs, 0700)
# Debian packages it installs when missing (apt-get update first): fuse3 (fusermount3 for
# non-root mounts, /dev/fuse), and what `npm ci` needs to build flexfs's FUSE addon against
# libfuse3 (pkg-config, libfuse3-dev, make, g++, python3). Run `install.sh --deps-only`
# on a fresh machine BEFORE `npm ci` to get just those.
# Idempotent: running it again replaces the package and launchers with the current build.
#
# Usage: install.sh [--prefix DIR] [--no-deps] [--no-user]
#        install.sh --deps-only                only the Debian packages above
#        install.sh --uninstall [--purge]     (--purge also removes /etc/flexfs, /var/lib/flexfs,
#                                              /var/cache/flexfs and the user: metadata and caches!)
# DESTDIR=/some/root install.sh stages everything under that root (package builds, tests); it
# then skips what only makes sense on the live system: apt-get, useradd, chown, systemctl.
set -eu

PREFIX=/opt/flexfs
DESTDIR=${DESTDIR:-}
DEPS=1
DEPS_ONLY=0
MKUSER=1
UNINSTALL=0
PURGE=0
SRC=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "install.sh: $*"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; PREFIX=$2; shift ;;
    --prefix=*) PREFIX=${1#--prefix=} ;;
    --destdir) [ $# -ge 2 ] || die "--destdir needs a directory"; DESTDIR=$2; shift ;;
    --no-deps) DEPS=0 ;;
    --deps-only) DEPS_ONLY=1 ;;
    --no-user) MKUSER=0 ;;
    --uninstall) UNINSTALL=1 ;;
    --purge) PURGE=1 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument \"$1\" (see --help)" ;;
  esac
  shift
done
case "$PREFIX" in /*) ;; *) die "--prefix must be an absolute path, got \"$PREFIX\"" ;; esac
[ "$PURGE" = 0 ] || [ "$UNINSTALL" = 1 ] || die "--purge only goes with --uninstall"
DESTDIR=${DESTDIR%/}
LIVE=0
[ -z "$DESTDIR" ] && LIVE=1
if [ "$LIVE" = 1 ] && [ "$(id -u)" != 0 ]; then die "run as root (or set DESTDIR to stage into a folder)"; fi
[ "$DEPS_ONLY" = 0 ] || [ "$LIVE" = 1 ] || die "--deps-only installs Debian packages on the live system; not with DESTDIR"
[ "$DEPS_ONLY" = 0 ] || [ "$DEPS" = 1 ] || die "--deps-only and --no-deps contradict each other"

# Debian packages: fuse3 at run time (fusermount3, /dev/fuse); pkg-config and libfuse3-dev for the
# FUSE addon that `npm ci` builds (scripts/build-fuse-addon.mjs); make, g++ and python3 for
# node-gyp. Each tool's package has the tool's name. Nothing missing: no apt-get at all (idempotent, offline-safe).
missing_packages() {
  pk=""
  { command -v fusermount3 >/dev/null 2>&1 && [ -e /dev/fuse ]; } || pk="fuse3"
  if command -v pkg-config >/dev/null 2>&1; then
    pkg-config --exists fuse3 2>/dev/null || pk="${pk:+$pk }libfuse3-dev"
  else
    pk="${pk:+$pk }pkg-config libfuse3-dev"
  fi
  for t in make g++ python3; do
    command -v "$t" >/dev/null 2>&1 || pk="${pk:+$pk }$t"
  done
  echo "$pk"
}
install_deps() {
  pk=$(missing_packages)
  if [ -z "$pk" ]; then say "Debian packages: nothing missing"; return 0; fi
  command -v apt-get >/dev/null 2>&1 || die "missing: $pk; no apt-get here, install them by hand"
  say "installing Debian packages: $pk"
  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null || die "apt-get update failed"
  # shellcheck disable=SC2086 # one word per package
  DEBIAN_FRONTEND=noninteractive apt-get install -y $pk >/dev/null || die "apt-get install $pk failed"
}
if [ "$DEPS_ONLY" = 1 ]; then
  install_deps
  exit 0
fi

UNITS="flexfs-meta.service flexfs-proxy.service flexfs-mount@.service"
UNIT_DIR=/etc/systemd/system
have_systemd() { [ "$LIVE" = 1 ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }

# ------------------------------------------------------------------ uninstall
if [ "$UNINSTALL" = 1 ]; then
  if have_systemd; then
    systemctl disable --now flexfs-meta.service flexfs-proxy.service >/dev/null 2>&1 || true
  fi
  for f in /usr/sbin/meta.flexfs /usr/sbin/proxy.flexfs /usr/bin/flexfs /sbin/mount.flexfs; do
    rm -f "$DESTDIR$f"
  done
  for u in $UNITS; do rm -f "$DESTDIR$UNIT_DIR/$u"; done
  rm -rf "$DESTDIR$PREFIX"
  if [ "$PURGE" = 1 ]; then
    rm -rf "$DESTDIR/etc/flexfs" "$DESTDIR/var/lib/flexfs" "$DESTDIR/var/cache/flexfs"
    if [ "$LIVE" = 1 ] && id flexfs >/dev/null 2>&1; then userdel flexfs || true; fi
    say "removed flexfs, its settings, metadata and caches"
  else
    say "removed flexfs; kept /etc/flexfs and /var/lib/flexfs (metadata) — --purge removes them"
  fi
  have_systemd && systemctl daemon-reload || true
  exit 0
fi

# ------------------------------------------------------------------ install
[ -f "$SRC/dist/src/cli/meta/main.js" ] && [ -f "$SRC/dist/src/cli/mount/main.js" ] \
  || die "$SRC/dist is missing or incomplete: run \"npm ci && npm run build\" first"
[ -d "$SRC/node_modules" ] || die "$SRC/node_modules is missing: run \"npm ci\" first"
[ -f "$SRC/build/Release/flexfs_fuse.node" ] || die "$SRC/build/Release/flexfs_fuse.node (the FUSE addon) is missing: run \"npm ci\" (or node scripts/build-fuse-addon.mjs) first"
command -v npm >/dev/null 2>&1 || die "npm is not installed (it comes with node; install.sh uses it to drop the devDependencies)"
for u in $UNITS; do [ -f "$SRC/packaging/systemd/$u" ] || die "unit $u missing from $SRC/packaging/systemd"; done

if [ "$LIVE" = 1 ]; then
  command -v node >/dev/null 2>&1 || die "node (>= 20) is not installed"
  major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 20 ] || die "node $major is too old: flexfs needs Node 20 or newer"
  if [ "$DEPS" = 1 ]; then install_deps; fi
fi

# The package: copied next to the target first, so a failed copy leaves the old one in place.
# The swap is two renames (old out of the way, new in): NOT atomic; for a moment there is no
# $PREFIX. Running daemons keep the code they loaded, but restart them afterwards (they may load
# more modules later, from the new tree).
pkg="$DESTDIR$PREFIX"
stage="$pkg.new.$$"
trap 'rm -rf "$stage"' EXIT
rm -rf "$stage"
mkdir -p "$stage"
# binding.gyp marks the package root for the FUSE addon loader (src/fuse/lowlevel/native.ts).
for item in dist node_modules bin package.json package-lock.json binding.gyp build/Release/flexfs_fuse.node README.md fstab.example docs packaging/systemd packaging/install.sh; do
  [ -e "$SRC/$item" ] || continue
  mkdir -p "$stage/$(dirname "$item")"
  cp -a "$SRC/$item" "$stage/$item"
done
rm -rf "$stage/dist/.build-lock" "$stage/dist/test" "$stage/dist/bench"
# A self-contained copy: the checkout's node_modules (native modules already built by its npm ci)
# pruned to the production dependencies, so nothing refers back to the checkout and its next
# `npm ci` cannot break the installed flexfs. Offline and without install scripts: nothing is
# downloaded or rebuilt here (the FUSE addon was copied prebuilt above).
(cd "$stage" && npm prune --omit=dev --ignore-scripts --offline --no-audit --no-fund >/dev/null) \
  || die "npm prune --omit=dev failed in $stage (is $SRC/node_modules from \"npm ci\" of this package-lock.json?)"
find "$stage/node_modules" -mindepth 1 -type d -empty -delete
chmod 0755 "$stage/bin/"*
rm -rf "$pkg.old.$$"
[ -e "$pkg" ] && mv "$pkg" "$pkg.old.$$"
mv "$stage" "$pkg"
rm -rf "$pkg.old.$$"
trap - EXIT

# Launchers: small scripts (not symlinks) so they work from any root and survive re-installs.
launcher() { # launcher <installed path> <package bin name>
  mkdir -p "$DESTDIR$(dirname "$1")"
  printf '#!/bin/sh\n# flexfs launcher (packaging/install.sh)\nexec %s/bin/%s "$@"\n' "$PREFIX" "$2" > "$DESTDIR$1.tmp"
  chmod 0755 "$DESTDIR$1.tmp"
  mv -f "$DESTDIR$1.tmp" "$DESTDIR$1"
}
launcher /usr/sbin/meta.flexfs meta.flexfs
launcher /usr/sbin/proxy.flexfs proxy.flexfs
launcher /usr/bin/flexfs flexfs
launcher /sbin/mount.flexfs mount.flexfs

mkdir -p "$DESTDIR$UNIT_DIR"
for u in $UNITS; do install -m 0644 "$SRC/packaging/systemd/$u" "$DESTDIR$UNIT_DIR/$u"; done

# Settings files: created once, never overwritten (they are the operator's).
mkdir -p "$DESTDIR/etc/flexfs"
if [ ! -e "$DESTDIR/etc/flexfs/meta.env" ]; then
  cat > "$DESTDIR/etc/flexfs/meta.env" <<'EOF'
# Extra flags for `meta.flexfs start` (flexfs-meta.service). Defaults: sqlite in /var/lib/flexfs/meta/db,
# TLS with a self-signed certificate, port 8443 on all addresses.
#FLEXFS_META_ARGS="--engine redis://127.0.0.1:6379/0 --bindAddr 0.0.0.0:8443"
EOF
fi
if [ ! -e "$DESTDIR/etc/flexfs/proxy.env" ]; then
  cat > "$DESTDIR/etc/flexfs/proxy.env" <<'EOF'
# Flags for `proxy.flexfs start` (flexfs-proxy.service). --store is required.
#FLEXFS_PROXY_ARGS="--store s3://my-bucket --endpoint https://rgw.example:7480 --diskQuota 200G"
EOF
fi

if [ "$LIVE" = 1 ]; then
  if [ "$MKUSER" = 1 ] && ! id flexfs >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/flexfs --no-create-home --shell /usr/sbin/nologin flexfs
    say "created system user flexfs"
  fi
fi
# The state folder exists before the first `sudo -u flexfs meta.flexfs init creds` (systemd's
# StateDirectory= would only make it at the first start); same owner and mode as the units ask for.
if [ "$LIVE" = 1 ] && id flexfs >/dev/null 2>&1; then
  install -d -m 0700 -o flexfs -g "$(id -gn flexfs)" /var/lib/flexfs
else
  install -d -m 0700 "$DESTDIR/var/lib/flexfs"
fi
if [ "$LIVE" = 1 ]; then
  have_systemd && systemctl daemon-reload || true
fi
say "installed flexfs into ${DESTDIR:-/}${DESTDIR:+ }($PREFIX, launchers, units in $UNIT_DIR)"
