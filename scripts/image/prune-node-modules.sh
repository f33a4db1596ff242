#!/bin/sh
# Trims a production node_modules for the mqop image; shared by both image builds.
# Only files that are never loaded at run time go:
#   - source maps and TypeScript declarations;
#   - Markdown docs (cdk8s-plus-34 alone ships 16 MB of API docs for Java/Python/TS), but never
#     license files;
#   - jsii assemblies (.jsii): metadata for jsii's other-language bindings; JS never reads them;
#   - packages' own test folders;
#   - zeromq prebuilt addons for other systems: the image is Linux, glibc (Debian), one CPU
#     architecture. zeromq picks its addon from build/manifest.json by os/arch/libc, so the
#     linux/<arch>/node/glibc-* ones stay.
# Usage: prune-node-modules.sh <node_modules-dir> [<arch: x64|arm64>]   (default: this machine's)
set -eu
nm=${1:?usage: prune-node-modules.sh <node_modules-dir> [arch]}
arch=${2:-$(uname -m)}
case $arch in x86_64 | amd64) arch=x64 ;; aarch64) arch=arm64 ;; esac
[ -d "$nm" ] || { echo "prune-node-modules: no such directory: $nm" >&2; exit 1; }
find "$nm" -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \
  -o -name '.jsii' -o -name '.jsii.gz' \) -delete
find "$nm" -type f -iname '*.md' ! -iname 'licen[cs]e*' ! -iname 'copying*' ! -iname 'notice*' -delete
find "$nm" -mindepth 2 -type d \( -name test -o -name tests -o -name __tests__ \) -prune -exec rm -rf {} +
zb="$nm/zeromq/build"
if [ -d "$zb" ]; then
  for d in "$zb"/*; do [ "$d" = "$zb/linux" ] || [ ! -d "$d" ] || rm -rf "$d"; done
  for d in "$zb"/linux/*; do [ "$d" = "$zb/linux/$arch" ] || rm -rf "$d"; done
  rm -rf "$zb/linux/$arch"/node/musl-*
  [ -n "$(ls "$zb/linux/$arch/node" 2>/dev/null)" ] || { echo "prune-node-modules: no zeromq addon for linux/$arch" >&2; exit 1; }
fi
# npm's own bookkeeping: not read by node
rm -f "$nm/.package-lock.json"
