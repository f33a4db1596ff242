#!/bin/sh
# Prepares a root file system for the mqop image: the non-root user `mqop` (uid/gid 65532, the
# same numbers as distroless's `nonroot`) and its home, and the `mqop` wrapper on PATH.
# Shared by both image builds, so they can't drift apart:
#   Dockerfile:             sh /tmp/image/setup-rootfs.sh /
#   scripts/image/build.sh: mmdebstrap --customize-hook='sh .../setup-rootfs.sh "$1"'
# Usage: setup-rootfs.sh <root-dir>      (POSIX sh: the Dockerfile's base image has no bash hook)
set -eu
root=${1:?usage: setup-rootfs.sh <root-dir>}
here=$(cd "$(dirname "$0")" && pwd)

grep -q '^mqop:' "$root/etc/group" || echo 'mqop:x:65532:' >>"$root/etc/group"
grep -q '^mqop:' "$root/etc/passwd" ||
  echo 'mqop:x:65532:65532:mqop:/home/mqop:/usr/sbin/nologin' >>"$root/etc/passwd"
if [ -f "$root/etc/shadow" ] && ! grep -q '^mqop:' "$root/etc/shadow"; then
  echo 'mqop:!:19000::::::' >>"$root/etc/shadow"
fi
mkdir -p "$root/home/mqop" "$root/app" "$root/usr/local/bin"
chown 65532:65532 "$root/home/mqop"
chmod 0750 "$root/home/mqop"
install -m 0755 "$here/mqop" "$root/usr/local/bin/mqop"
