#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Build VPP's nat_plugin.so with vpp-plugin/patches/*.patch applied, out of VPP's tree,
# against an installed VPP (its headers, libnat.so and vppapigen), without building VPP.
#   build-nat-plugin.sh <VPP source at the installed VPP's commit> <VPP prefix> <out dir>
# The result is <out dir>/lib/vpp_plugins/nat_plugin.so, a drop-in for the installed one.
set -eu
src=$1 prefix=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$src/src/plugins/nat/nat44-ed/nat44_ed.c" ] || {
  echo "build-nat-plugin.sh: $src is not a VPP source tree (no src/plugins/nat)" >&2; exit 2; }
rm -rf "$out/src" "$out/build" && mkdir -p "$out/src/plugins/nat"
cp -r "$src/src/plugins/nat/nat44-ed" "$src/src/plugins/nat/lib" "$out/src/plugins/nat/"
for p in "$here"/*.patch; do
  patch -s -d "$out/src" -p2 < "$p"   # the patches name a/src/plugins/nat/...
done
cat > "$out/src/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.13)
project(nat-patched C)
include(GNUInstallDirs)
set(CMAKE_LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lib)
if(NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE Release)
endif()
find_package(VPP REQUIRED)
include_directories(BEFORE ${CMAKE_CURRENT_SOURCE_DIR}/plugins ${CMAKE_CURRENT_BINARY_DIR}/plugins)
find_library(NAT_LIB nat PATHS ${VPP_LIB_DIR} ${CMAKE_PREFIX_PATH}/lib/x86_64-linux-gnu REQUIRED)
add_vpp_plugin(nat
  SOURCES
  plugins/nat/nat44-ed/nat44_ed.c plugins/nat/nat44-ed/nat44_ed_api.c plugins/nat/nat44-ed/nat44_ed_in2out.c
  plugins/nat/nat44-ed/nat44_ed_out2in.c plugins/nat/nat44-ed/nat44_ed_cli.c plugins/nat/nat44-ed/nat44_ed_format.c
  plugins/nat/nat44-ed/nat44_ed_affinity.c plugins/nat/nat44-ed/nat44_ed_handoff.c plugins/nat/nat44-ed/nat44_ed_classify.c
  MULTIARCH_SOURCES
  plugins/nat/nat44-ed/nat44_ed_in2out.c plugins/nat/nat44-ed/nat44_ed_out2in.c
  plugins/nat/nat44-ed/nat44_ed_handoff.c plugins/nat/nat44-ed/nat44_ed_classify.c
  API_FILES
  plugins/nat/nat44-ed/nat44_ed.api plugins/nat/lib/nat_types.api
  LINK_LIBRARIES ${NAT_LIB}
)
CM
cmake -G Ninja -S "$out/src" -B "$out/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
ninja -C "$out/build" nat_plugin
mkdir -p "$out/lib/vpp_plugins"
cp "$out/build/lib/vpp_plugins/nat_plugin.so" "$out/lib/vpp_plugins/"
echo "$out/lib/vpp_plugins/nat_plugin.so"
