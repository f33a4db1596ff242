#!/usr/bin/env bash
# Builds the broker images offline (no container registry): Debian bookworm packages (mmdebstrap)
# and the Maven Central jars the test beds in scripts/brokers/ already cache. Each image is tagged
# with the exact upstream name the renderers use (operator/src/engines/*.ts), so the unchanged
# renderers run on them, and carries labels saying what is really inside:
#
#   docker.io/library/redis:7.4.6                 Debian's redis-server (7.0.x)
#   docker.io/library/rabbitmq:4.1.4-management   Debian's rabbitmq-server (3.10.x)
#   docker.io/apache/kafka:3.9.1                  Kafka 3.9.1 jars (Maven) + Debian's OpenJDK 17
#   docker.io/apache/activemq-classic:6.1.7       ActiveMQ 6.1.7 jars (Maven) + Debian's OpenJDK 17
#   docker.io/apache/rocketmq:5.3.3               RocketMQ 5.3.3 jars (Maven) + Debian's OpenJDK 17
#
# The images match the upstream images' paths, users and commands as far as the renderers rely on
# them (binaries on PATH or at the upstream path, uids 999/1000/3000, the directories the pods
# mount). No Docker is needed: every image is written as a one-layer OCI image-layout tarball
# (plain tar + sha256sum) with a Docker manifest.json as well, so `ctr images import` and
# `docker load` both accept it.
#
# Steps, each cached under ${MQOP_CACHE:-$HOME/.cache/mqop}/images/ by a hash of its inputs:
#   1. base-<name>-<key>.tar   mmdebstrap rootfs (variant essential + the engine's packages);
#                              the three Java engines share one (openjdk-17-jre-headless)
#   2. <engine>-<key>.oci.tar  base + the engine's files (users, dirs, jars, wrappers), as an OCI
#                              image; <engine>.oci.tar is a symlink to the current one
#
# Usage: scripts/images/build-brokers.sh [engine...]     (default: all five)
#   stdout: one line per engine: <engine> <image ref> <tarball> <bytes>
# Env:   MQOP_CACHE, MQOP_DEBIAN_MIRROR, MQOP_DEBIAN_SECURITY_MIRROR (as scripts/image/build.sh)
#        MQOP_IMAGES_REFRESH=1   rebuild the Debian bases too (new security updates)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/scripts/images"
MQOP_CACHE="${MQOP_CACHE:-$HOME/.cache/mqop}"
CACHE="$MQOP_CACHE/images"
SUITE=bookworm
MIRROR="${MQOP_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${MQOP_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
SOURCES=("deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" "deb $SECURITY_MIRROR $SUITE-security main")
ALL=(redis rabbitmq kafka activemq rocketmq)
# Versions the renderers name (and the test beds download); kept in step by hand.
KAFKA_VERSION=3.9.1
ACTIVEMQ_VERSION=6.1.7
ROCKETMQ_VERSION=5.3.3

log() { printf '[images] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }'; }
sha() { sha256sum | cut -c1-16; }
[[ $(id -u) == 0 ]] || die "needs root (mmdebstrap and file ownership in the image)"
mkdir -p "$CACHE"
exec 9>"$CACHE/build.lock"
flock 9

# ---- 1. Debian bases ---------------------------------------------------------------------------
# base <name> <packages,...>  -> prints the path of the cached rootfs tarball
base() {
  local name=$1 packages=$2 key tar t
  # shellcheck disable=SC2016 # the hooks' $1 is expanded by mmdebstrap's shell
  local args=(
    --variant=essential --include="$packages"
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
    # openjdk's postinst links its man pages (update-alternatives) and fails without man1/
    --essential-hook='mkdir -p "$1"/usr/share/man/man1'
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/doc/*'
    --dpkgopt='path-include=/usr/share/doc/*/copyright'
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*.log "$1"/var/log/apt/* "$1"/var/cache/ldconfig/aux-cache'
  )
  key=$(printf '%s\n' "$SUITE" "${SOURCES[@]}" "${args[@]}" | sha)
  tar="$CACHE/base-$name-$key.tar"
  [[ ${MQOP_IMAGES_REFRESH:-} == 1 ]] && rm -f "$tar"
  if [[ ! -f $tar ]]; then
    if ! command -v mmdebstrap >/dev/null; then
      log "installing mmdebstrap (Debian package)"
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap; } >&2 ||
        die "mmdebstrap missing and apt-get install mmdebstrap failed"
    fi
    t=$EPOCHREALTIME
    log "base $name: mmdebstrap $SUITE ($packages)"
    if ! nice -n 10 mmdebstrap --format=tar "${args[@]}" "$SUITE" "$tar.tmp" "${SOURCES[@]}" \
      >"$CACHE/mmdebstrap-$name.log" 2>&1; then
      tail -30 "$CACHE/mmdebstrap-$name.log" >&2
      rm -f "$tar.tmp"
      die "mmdebstrap failed; log: $CACHE/mmdebstrap-$name.log"
    fi
    mv -f "$tar.tmp" "$tar"
    find "$CACHE" -maxdepth 1 -name "base-$name-*.tar" ! -path "$tar" -delete
    log "base $name: $(($(stat -c %s "$tar") / 1000000)) MB in $(since "$t")"
  fi
  echo "$tar"
}

# ---- helpers for the engine recipes (run against the unpacked root $R) ---------------------------
# set_user <name> <uid> <gid> <home>: the user/group get the upstream image's numbers (a Debian
# package may already have created them with other ids; files it owns are moved over).
set_user() {
  local name=$1 uid=$2 gid=$3 home=$4 old_uid old_gid
  old_uid=$(awk -F: -v n="$name" '$1 == n { print $3 }' "$R/etc/passwd")
  old_gid=$(awk -F: -v n="$name" '$1 == n { print $3 }' "$R/etc/group")
  sed -i "/^$name:/d" "$R/etc/passwd" "$R/etc/group"
  [[ -f $R/etc/shadow ]] && sed -i "/^$name:/d" "$R/etc/shadow"
  [[ -f $R/etc/gshadow ]] && sed -i "/^$name:/d" "$R/etc/gshadow"
  echo "$name:x:$gid:" >>"$R/etc/group"
  echo "$name:x:$uid:$gid:$name:$home:/bin/sh" >>"$R/etc/passwd"
  [[ -f $R/etc/shadow ]] && echo "$name:!:19000::::::" >>"$R/etc/shadow"
  if [[ -n $old_uid && $old_uid != "$uid" ]]; then find "$R" -xdev -uid "$old_uid" -exec chown -h "$uid" {} +; fi
  if [[ -n $old_gid && $old_gid != "$gid" ]]; then find "$R" -xdev -gid "$old_gid" -exec chgrp -h "$gid" {} +; fi
  mkdir -p "$R$home"
  chown "$uid:$gid" "$R$home"
}
# own_dirs <uid:gid> <dir...>: writable directories (mode 0775 so fsGroup-only pods can write too)
own_dirs() {
  local owner=$1 d
  shift
  for d in "$@"; do mkdir -p "$R$d" && chown "$owner" "$R$d" && chmod 0775 "$R$d"; done
}
deb_version() { dpkg-query --admindir="$R/var/lib/dpkg" -W -f '${Version}' "$1"; }
# Jars the test beds cached (scripts/brokers/{kafka,activemq,rocketmq}.sh): copy a directory of
# jars into the image.
jar_dir() { # <engine> -> the test bed's lib dir
  local d
  case $1 in
    kafka) d=$MQOP_CACHE/kafka/$KAFKA_VERSION/libs ;;
    activemq) d=$MQOP_CACHE/activemq/$ACTIVEMQ_VERSION/lib ;;
    rocketmq) d=$MQOP_CACHE/rocketmq/$ROCKETMQ_VERSION/lib ;;
  esac
  if [[ ! -d $d ]] || ! compgen -G "$d/*.jar" >/dev/null; then
    log "$1 jars missing in $d: scripts/brokers/$1.sh install (Maven Central)"
    "$ROOT/scripts/brokers/$1.sh" install >&2 || die "scripts/brokers/$1.sh install failed"
    compgen -G "$d/*.jar" >/dev/null || die "$1 jars still missing in $d after scripts/brokers/$1.sh install"
  fi
  echo "$d"
}

# ---- 2. engine recipes ---------------------------------------------------------------------------
# Each recipe sets: IMAGE, BASE (name), PACKAGES, and defines recipe_<engine> (customizes $R and
# sets CFG_USER, CFG_ENV (array), CFG_CMD (JSON array), CFG_ENTRYPOINT (JSON array or empty),
# CFG_WORKDIR, CONTENTS (label text)). INPUTS lists extra files whose contents key the image.
# shellcheck disable=SC2034 # used by recipes.sh
JAVA_PACKAGES="openjdk-17-jre-headless,bash,procps,netcat-openbsd"
# shellcheck disable=SC2034 # used by recipes.sh
PATH_ENV="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# shellcheck source=scripts/images/recipes.sh
source "$HERE/recipes.sh"

# ---- OCI image-layout tarball -------------------------------------------------------------------
json_array() { # strings -> JSON array (no quotes or backslashes expected in the strings)
  local s out=""
  for s in "$@"; do out+="${out:+,}\"$s\""; done
  echo "[$out]"
}
write_oci() { # <out.tar> <layer.tar> <config-fragment JSON> <history comment>
  local out=$1 layer=$2 cfg=$3 comment=$4 w ldig lsize cdig csize mdig msize
  w=$(mktemp -d "$CACHE/oci.XXXXXX")
  mkdir -p "$w/blobs/sha256"
  ldig=$(sha256sum "$layer" | cut -d' ' -f1)
  lsize=$(stat -c %s "$layer")
  mv "$layer" "$w/blobs/sha256/$ldig"
  printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"%s"}]}' \
    "$cfg" "$ldig" "$comment" >"$w/config.json"
  cdig=$(sha256sum "$w/config.json" | cut -d' ' -f1)
  csize=$(stat -c %s "$w/config.json")
  mv "$w/config.json" "$w/blobs/sha256/$cdig"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$cdig" "$csize" "$ldig" "$lsize" >"$w/manifest.json"
  mdig=$(sha256sum "$w/manifest.json" | cut -d' ' -f1)
  msize=$(stat -c %s "$w/manifest.json")
  mv "$w/manifest.json" "$w/blobs/sha256/$mdig"
  # One index entry per name: the upstream ref, plus EXTRA_TAGS (e.g. the real version's ref).
  local name entries=""
  for name in "$IMAGE" "${EXTRA_TAGS[@]}"; do
    entries+="${entries:+,}$(printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}' \
      "$mdig" "$msize" "$name" "$name")"
  done
  printf '{"schemaVersion":2,"manifests":[%s]}' "$entries" >"$w/index.json"
  # Docker's archive manifest too, so `docker load` takes the same tarball.
  local tags=""
  for name in "$IMAGE" "${EXTRA_TAGS[@]}"; do tags+="${tags:+,}\"$name\""; done
  printf '[{"Config":"blobs/sha256/%s","RepoTags":[%s],"Layers":["blobs/sha256/%s"]}]' "$cdig" "$tags" "$ldig" >"$w/manifest.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$w/oci-layout"
  tar -C "$w" -cf "$out" oci-layout index.json manifest.json blobs
  rm -rf "$w"
}

build() {
  local engine=$1 t key base_tar out link cfg env_json labels
  t=$EPOCHREALTIME
  EXTRA_TAGS=()
  "setup_$engine"
  base_tar=$(base "$BASE" "$PACKAGES")
  key=$({
    printf '%s\n' "$engine" "$IMAGE" "${EXTRA_TAGS[@]}" "$(basename "$base_tar")"
    cat "$HERE/build-brokers.sh" "$HERE/recipes.sh"
    local f
    for f in "${INPUTS[@]}"; do printf '%s %s\n' "$(basename "$f")" "$(stat -c %s "$f")"; done
  } | sha)
  out="$CACHE/$engine-$key.oci.tar"
  link="$CACHE/$engine.oci.tar"
  if [[ -f $out ]]; then
    ln -sfn "$(basename "$out")" "$link"
    log "$engine: up to date ($IMAGE, inputs $key)"
    echo "$engine $IMAGE $link $(stat -c %s "$out")"
    return
  fi
  R=$(mktemp -d "$CACHE/root-$engine.XXXXXX")
  trap 'rm -rf "$R" "$CACHE/layer-$engine.tar"' EXIT
  tar -C "$R" --numeric-owner -xpf "$base_tar"
  "recipe_$engine"
  env_json=$(json_array "${CFG_ENV[@]}")
  labels=$(printf '{"org.opencontainers.image.title":"%s","mqop.upstream-ref":"%s","mqop.contents":"%s","mqop.inputs":"%s","mqop.build":"offline (scripts/images/build-brokers.sh)"}' \
    "$engine" "$IMAGE" "$CONTENTS" "$key")
  cfg=$(printf '{"User":"%s","Env":%s,%s"Cmd":%s,"WorkingDir":"%s","Labels":%s}' \
    "$CFG_USER" "$env_json" "${CFG_ENTRYPOINT:+\"Entrypoint\":$CFG_ENTRYPOINT,}" "$CFG_CMD" "$CFG_WORKDIR" "$labels")
  nice -n 10 tar -C "$R" --numeric-owner --sort=name --mtime=@0 -cf "$CACHE/layer-$engine.tar" .
  rm -rf "$R"
  trap - EXIT
  write_oci "$out.tmp" "$CACHE/layer-$engine.tar" "$cfg" "scripts/images/build-brokers.sh $engine: $CONTENTS"
  mv -f "$out.tmp" "$out"
  find "$CACHE" -maxdepth 1 -name "$engine-*.oci.tar" ! -path "$out" -delete
  ln -sfn "$(basename "$out")" "$link"
  log "$engine: $IMAGE ($CONTENTS), $(($(stat -c %s "$out") / 1000000)) MB in $(since "$t")"
  echo "$engine $IMAGE $link $(stat -c %s "$out")"
}
# Recipes may also set EXTRA_TAGS (array): more names for the same image.

engines=("$@")
((${#engines[@]})) || engines=("${ALL[@]}")
for e in "${engines[@]}"; do
  declare -F "setup_$e" >/dev/null || die "unknown engine $e (known: ${ALL[*]})"
done
for e in "${engines[@]}"; do build "$e"; done
