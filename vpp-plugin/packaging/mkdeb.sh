#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# mkdeb.sh VPP_PREFIX OUT: the Debian package of the plugin, built against the VPP installed in
# VPP_PREFIX and installed into that VPP's own directories; written to OUT (`make deb`: build/).
#
#   OUT/deb/plugin                      the plugin's CMake build against VPP_PREFIX
#   OUT/deb/debian/vpp-plugin-sip-alg   the package's tree (DEBIAN/ and the installed files)
#   OUT/vpp-plugin-sip-alg_<version>_<arch>.deb
#
# Version: <project version>+vpp<VPP version>. Depends: the VPP packages of exactly that version
# (the packages that own VPP_PREFIX/bin/vpp and VPP's NAT plugin when dpkg knows them, else
# FD.io's names, vpp and vpp-plugin-core) and the C library. The same sources, VPP and
# SOURCE_DATE_EPOCH (default: the last commit's time) give the same bytes.
set -euo pipefail

PKG=vpp-plugin-sip-alg
die() { echo "mkdeb: $*" >&2; exit 2; }

[ $# -eq 2 ] || die "usage: mkdeb.sh VPP_PREFIX OUT"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
prefix=${1%/}
case "$prefix" in /*) ;; *) die "VPP_PREFIX must be an absolute path, not '$1'" ;; esac
[ -x "$prefix/bin/vpp" ] || die "VPP_PREFIX=$prefix: no $prefix/bin/vpp (where is VPP installed?)"
for tool in cmake ninja dpkg-deb dpkg-shlibdeps strip; do
  command -v $tool >/dev/null || die "$tool not found (Debian: apt-get install cmake ninja-build dpkg-dev binutils)"
done
mkdir -p "$2"
out=$(cd "$2" && pwd)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 0)}
export LC_ALL=C TZ=UTC

# the plugin, built against VPP_PREFIX only: a build directory configured against another VPP
# (its headers found elsewhere) is started afresh
bld=$out/deb/plugin
configure() {
  cmake -G Ninja -S "$ROOT/vpp-plugin" -B "$bld" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="-ffile-prefix-map=$ROOT/=" >/dev/null
  sed -n 's/^VPP_INCLUDE_DIR:PATH=//p' "$bld/CMakeCache.txt"
}
inc=$(configure)
if [ "$inc" != "$prefix/include" ]; then
  rm -rf "$bld"
  inc=$(configure)
  [ "$inc" = "$prefix/include" ] || die "VPP_PREFIX=$prefix: CMake found VPP's headers in '$inc', not $prefix/include"
fi
ninja -C "$bld" >/dev/null

# VPP's version: the one dpkg knows when a package owns VPP (what apt compares Depends with),
# else the one VPP's headers were built with (vpp --version says the same)
vpp_so_dir() {  # VPP's plugin directory in prefix $1: where its NAT plugin is
  local d
  for d in "$1"/lib*/*/vpp_plugins "$1"/lib*/vpp_plugins; do
    if [ -f "$d/nat_plugin.so" ]; then echo "$d"; return; fi
  done
}
owner() { dpkg-query -S "$1" 2>/dev/null | sed -n '1s/: .*//p' || true; }
header_version=$(sed -n 's/^#define VPP_BUILD_VER "\(.*\)"$/\1/p' "$inc/vpp/app/version.h")
[ -n "$header_version" ] || die "no VPP_BUILD_VER in $inc/vpp/app/version.h"
vpp_pkg=$(owner "$prefix/bin/vpp")
core_pkg=$(owner "$(vpp_so_dir "$prefix")/nat_plugin.so")
if [ -n "$vpp_pkg" ]; then
  vpp_version=$(dpkg-query -W -f='${Version}' "$vpp_pkg")
  [ "$vpp_version" = "$header_version" ] ||
    echo "mkdeb: note: package $vpp_pkg is $vpp_version, VPP's headers say $header_version" >&2
else
  vpp_version=$header_version
fi
vpp_pkg=${vpp_pkg:-vpp}
core_pkg=${core_pkg:-vpp-plugin-core}
dpkg --validate-version "$vpp_version" >/dev/null 2>&1 ||
  die "VPP's version '$vpp_version' is not a Debian version"
project_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/mgmt/pyproject.toml")
version=$project_version+vpp$vpp_version
dpkg --validate-version "$version" >/dev/null 2>&1 || die "'$version' is not a Debian version"
arch=$(dpkg --print-architecture)
maintainer=${DEB_MAINTAINER:-$(git -C "$ROOT" log --reverse --format='%an <%ae>' 2>/dev/null | sed -n 1p)}
[ -n "$maintainer" ] || die "no git history to name a maintainer: set DEB_MAINTAINER='Name <address>'"

# the package's tree: what `cmake --install` puts into VPP_PREFIX for VPP's plugins
# (component vpp-plugin-core: the plugin and its API JSON, no development headers), stripped
# as dh_strip does, modes as Debian's policy has them
cd "$out/deb"
tree=debian/$PKG
rm -rf "$tree"
DESTDIR="$PWD/$tree" cmake --install "$bld" --prefix "$prefix" --component vpp-plugin-core >/dev/null
plugin_dir=$(vpp_so_dir "$prefix")
[ -n "$plugin_dir" ] || die "VPP_PREFIX=$prefix has no VPP plugin directory (lib*/vpp_plugins)"
so=$tree$plugin_dir/sip_alg_plugin.so
json=$tree$prefix/share/vpp/api/plugins/sip_alg.api.json
[ -f "$so" ] || die "the plugin was not installed beside VPP's plugins ($plugin_dir): $(cd "$tree" && find . -type f)"
[ -f "$json" ] || die "the API JSON was not installed into $prefix/share/vpp/api/plugins"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$so"
doc=$tree/usr/share/doc/$PKG
mkdir -p "$doc"
cp "$ROOT/vpp-plugin/packaging/copyright" "$doc/copyright"
sed -e "s|@VPP_VERSION@|$vpp_version|; s|@VPP_PREFIX@|$prefix|" \
    -e "s|@PLUGIN_DIR@|$plugin_dir|; s|@API_DIR@|$prefix/share/vpp/api/plugins|" \
    "$ROOT/vpp-plugin/packaging/README.in" > "$doc/README"
if [ -f "$ROOT/CHANGELOG.md" ]; then gzip -9nc "$ROOT/CHANGELOG.md" > "$doc/changelog.gz"; fi
{
  echo "$PKG ($version) unstable; urgency=medium"
  echo
  echo "  * Built against VPP $vpp_version in $prefix."
  echo
  echo " -- $maintainer  $(date -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n > "$doc/changelog.Debian.gz"
find "$tree" -type d -exec chmod 0755 {} +
find "$tree" -type f -exec chmod 0644 {} +

# the C library's version, from the symbols the plugin uses (dpkg-shlibdeps reads
# debian/control: one with this package is enough; it finds the package's tree by DEBIAN/)
mkdir -p "$tree/DEBIAN"
printf 'Source: vpp-sipalg\n\nPackage: %s\nArchitecture: any\n' $PKG > debian/control
shlibs=$(dpkg-shlibdeps -O "$so" | sed -n 's/^shlibs:Depends=//p')

(cd "$tree" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
   xargs -0 md5sum) > "$tree/DEBIAN/md5sums"
cat > "$tree/DEBIAN/control" <<EOF
Package: $PKG
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -sk --apparent-size --exclude=DEBIAN "$tree" | cut -f1)
Depends: $vpp_pkg (= $vpp_version), $core_pkg (= $vpp_version)${shlibs:+, $shlibs}
Section: net
Priority: optional
Description: SIP ALG for VPP's NAT44-ED
 A VPP plugin that rewrites the addresses and ports SIP and SDP carry as
 packets cross NAT44-ED, and opens pinholes for the media of each call.
 .
 Built against VPP $vpp_version
 installed in $prefix: it loads only into that VPP.
 Its management tool, sipalgctl, is a separate Python wheel.
EOF
chmod 0644 "$tree/DEBIAN/control" "$tree/DEBIAN/md5sums"
find "$tree" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
deb=$out/${PKG}_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$tree" "$deb" >/dev/null
echo "$deb"
