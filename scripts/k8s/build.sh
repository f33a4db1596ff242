#!/usr/bin/env bash
# Builds a real Kubernetes control plane (kube-apiserver, kube-controller-manager, kubectl) and
# etcd from source, using only the Go module proxy, and caches the binaries in
#   ${MQOP_CACHE:-$HOME/.cache/mqop}/k8s/<k8s-version>/bin/
#
# Usage: scripts/k8s/build.sh [--node]   (prints the bin dir on stdout; progress goes to stderr)
#        --node (or MQOP_K8S_NODE=1) also builds what a node needs: kubelet, kube-scheduler,
#        kube-proxy (same k8s version) and coredns (`go install`, MQOP_COREDNS_VERSION).
# Env:   MQOP_K8S_VERSION     (default v1.34.4)   k8s.io/kubernetes tag
#        MQOP_ETCD_VERSION    (default v3.6.16)   go.etcd.io/etcd/server/v3 tag
#        MQOP_COREDNS_VERSION (default v1.14.7)   github.com/coredns/coredns tag (--node only)
#        MQOP_CACHE           (default $HOME/.cache/mqop)
#        MQOP_GOFLAGS         extra go flags, e.g. -p=1
#
# Idempotent: when all requested binaries are already cached it exits in well under a second;
# with --node only the missing ones are built (the control-plane four are reused).
# How: k8s.io/kubernetes can't be `go install`ed directly, because its go.mod requires the
# k8s.io/* staging modules at v0.0.0 and replaces them with ./staging/... paths that are not in
# the module zip. So we write a throwaway wrapper module (in the cache dir, never in the repo)
# that requires k8s.io/kubernetes@v1.X.Y and replaces every staging module with its published
# v0.X.Y tag, then `go build` the commands from it. etcd's server module has ../ replaces too,
# so it gets its own wrapper module (own dependency graph: no grpc/otel version fights).
set -euo pipefail

K8S_VERSION="${MQOP_K8S_VERSION:-v1.34.4}"
ETCD_VERSION="${MQOP_ETCD_VERSION:-v3.6.16}"
CACHE="${MQOP_CACHE:-$HOME/.cache/mqop}"
COREDNS_VERSION="${MQOP_COREDNS_VERSION:-v1.14.7}"
NODE="${MQOP_K8S_NODE:-0}"
for a in "$@"; do
  case $a in
    --node) NODE=1 ;;
    *) echo "usage: build.sh [--node]" >&2; exit 2 ;;
  esac
done
KUBE_CMDS=(kube-apiserver kube-controller-manager kubectl)
[[ $NODE == 1 ]] && KUBE_CMDS+=(kubelet kube-scheduler kube-proxy)

log() { printf '[k8s-build] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s; }

# MQOP_GOFLAGS is appended (e.g. -p=1 to keep a shared machine responsive).
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false ${MQOP_GOFLAGS:-}"
command -v go >/dev/null || die "go is not on PATH"

# ---- version helpers -------------------------------------------------------------------------
# neighbour v1.34.4 -> v1.34.3 ; v1.34.0 -> v1.34.1
neighbour() {
  local v=$1 pre patch
  pre=${v%.*}; patch=${v##*.}
  if ((patch > 0)); then echo "$pre.$((patch - 1))"; else echo "$pre.$((patch + 1))"; fi
}

bin_dir_for() { echo "$CACHE/k8s/$1/bin"; }

is_complete() { # <k8s-version>
  local b; b=$(bin_dir_for "$1")
  local c
  for c in "${KUBE_CMDS[@]}" etcd; do [[ -x $b/$c ]] || return 1; done
  if [[ $NODE == 1 ]]; then
    [[ -x $b/coredns && -f $b/.coredns-version && "$(cat "$b/.coredns-version")" == "$COREDNS_VERSION" ]] || return 1
  fi
  [[ -f $b/.etcd-version && "$(cat "$b/.etcd-version")" == "$ETCD_VERSION" ]]
}

# Fast path: nothing to do (also honours a fallback version recorded by an earlier run).
for v in "$K8S_VERSION" "$(cat "$CACHE/k8s/$K8S_VERSION.resolved" 2>/dev/null || true)"; do
  if [[ -n $v ]] && is_complete "$v"; then
    log "cached: k8s $v + etcd $ETCD_VERSION in $(bin_dir_for "$v")"
    bin_dir_for "$v"
    exit 0
  fi
done

T0=$(now)
mkdir -p "$CACHE/k8s"
# One builder at a time per version (parallel test runs may all call this).
exec 9>"$CACHE/k8s/.build-$K8S_VERSION.lock"
flock 9

# moddir <module@version> -> prints the extracted module dir, or fails (proxy refused it)
moddir() {
  local out
  out=$(cd /tmp && go mod download -json "$1" 2>&1) || { printf '%s\n' "$out" >&2; return 1; }
  if grep -q '"Error"' <<<"$out"; then printf '%s\n' "$out" >&2; return 1; fi
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$out"
}

# staging_modules <kubernetes-dir> -> the k8s.io/* modules that k8s.io/kubernetes replaces with ./staging
staging_modules() {
  awk '/^replace[[:space:]]*\(/{r=1;next} r&&/^\)/{r=0} r&&$3 ~ /^\.\/staging\// {print $1}' "$1/go.mod"
}

# try_k8s <version>: downloads kubernetes + all of its staging modules at the matching v0 tag.
# Sets K8S_DIR and STAGING on success.
try_k8s() {
  local v=$1 sv m refused=()
  log "fetching k8s.io/kubernetes@$v from the Go module proxy"
  K8S_DIR=$(moddir "k8s.io/kubernetes@$v") || { log "the proxy refused k8s.io/kubernetes@$v"; return 1; }
  sv="v0.${v#v1.}"
  STAGING=$(staging_modules "$K8S_DIR")
  [[ -n $STAGING ]] || die "found no staging replace directives in $K8S_DIR/go.mod"
  local args=()
  # sample-* modules are replaced but never required; don't insist on them.
  for m in $STAGING; do [[ $m == k8s.io/sample-c* ]] || args+=("$m@$sv"); done
  log "fetching ${#args[@]} staging modules at $sv"
  local out
  out=$(cd /tmp && go mod download -json "${args[@]}" 2>&1) || true
  # each failing module shows up as an object with an "Error" key
  while read -r m; do refused+=("$m"); done < <(
    printf '%s\n' "$out" | awk '/"Path":/{gsub(/[",]/,"",$2);p=$2} /"Error":/{print p}' | sort -u)
  if ((${#refused[@]})); then
    log "the proxy refused: ${refused[*]} (at $sv)"
    return 1
  fi
  return 0
}

RESOLVED=$K8S_VERSION
if ! try_k8s "$RESOLVED"; then
  RESOLVED=$(neighbour "$K8S_VERSION")
  log "trying the neighbouring patch version $RESOLVED once"
  try_k8s "$RESOLVED" || die "neither $K8S_VERSION nor $RESOLVED could be fetched"
fi
STAGING_VERSION="v0.${RESOLVED#v1.}"
if is_complete "$RESOLVED"; then
  echo "$RESOLVED" >"$CACHE/k8s/$K8S_VERSION.resolved"
  bin_dir_for "$RESOLVED"; exit 0
fi

ROOT="$CACHE/k8s/$RESOLVED"
BIN="$ROOT/bin"
mkdir -p "$BIN" "$ROOT/src/kube" "$ROOT/src/etcd"
T_FETCH=$(now)
log "k8s sources ready ($((T_FETCH - T0))s)"

# ---- kubernetes wrapper module ---------------------------------------------------------------
GOVER=$(go env GOVERSION); GOVER=${GOVER#go}; GOVER=$(cut -d. -f1,2 <<<"$GOVER")
KW="$ROOT/src/kube"
if [[ ! -f $KW/go.mod ]] || ! grep -q "k8s.io/kubernetes $RESOLVED\$" "$KW/go.mod"; then
  {
    echo "// Generated by mqop scripts/k8s/build.sh: a throwaway wrapper to build k8s.io/kubernetes $RESOLVED."
    echo "module mqop.invalid/k8s-build"
    echo
    echo "go $GOVER"
    echo
    echo "require k8s.io/kubernetes $RESOLVED"
    echo
    echo "replace ("
    for m in $STAGING; do echo "	$m => $m $STAGING_VERSION"; done
    echo ")"
  } >"$KW/go.mod"
  rm -f "$KW/go.sum"
fi

MAJOR=${RESOLVED#v}; MAJOR=${MAJOR%%.*}
MINOR=$(cut -d. -f2 <<<"${RESOLVED#v}")
BUILD_DATE=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' \
  "$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$RESOLVED.info" 2>/dev/null || true)
[[ -n $BUILD_DATE ]] || BUILD_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LDFLAGS+=" -X $pkg.gitVersion=$RESOLVED -X $pkg.gitMajor=$MAJOR -X $pkg.gitMinor=$MINOR"
  LDFLAGS+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$BUILD_DATE"
done

build_one() { # <wrapper-dir> <import-path> <out-name> <ldflags>
  local t size
  t=$(now)
  log "go build $2 ..."
  (cd "$1" && go build -trimpath -ldflags "$4" -o "$BIN/.$3.tmp" "$2") || die "go build $2 failed"
  mv -f "$BIN/.$3.tmp" "$BIN/$3"
  size=$(du -h "$BIN/$3" | cut -f1)
  log "built $3 in $(($(now) - t))s ($size)"
  echo "$3 $(($(now) - t))s $size" >>"$ROOT/build-times.txt"
}

touch "$ROOT/build-times.txt"
for c in "${KUBE_CMDS[@]}"; do
  [[ -x $BIN/$c ]] && { log "$c already built"; continue; }
  build_one "$KW" "k8s.io/kubernetes/cmd/$c" "$c" "$LDFLAGS"
done

# ---- etcd wrapper module ---------------------------------------------------------------------
EW="$ROOT/src/etcd"
if [[ ! -x $BIN/etcd || "$(cat "$BIN/.etcd-version" 2>/dev/null)" != "$ETCD_VERSION" ]]; then
  ETCD_RESOLVED=$ETCD_VERSION
  log "fetching go.etcd.io/etcd/server/v3@$ETCD_RESOLVED"
  if ! moddir "go.etcd.io/etcd/server/v3@$ETCD_RESOLVED" >/dev/null; then
    log "the proxy refused go.etcd.io/etcd/server/v3@$ETCD_RESOLVED"
    ETCD_RESOLVED=$(neighbour "$ETCD_VERSION")
    log "trying the neighbouring patch version $ETCD_RESOLVED once"
    moddir "go.etcd.io/etcd/server/v3@$ETCD_RESOLVED" >/dev/null || die "no etcd server module could be fetched"
  fi
  {
    echo "// Generated by mqop scripts/k8s/build.sh: a throwaway wrapper to build etcd $ETCD_RESOLVED."
    echo "module mqop.invalid/etcd-build"
    echo
    echo "go $GOVER"
    echo
    echo "require ("
    for m in server/v3 api/v3 client/pkg/v3 client/v3 pkg/v3; do echo "	go.etcd.io/etcd/$m $ETCD_RESOLVED"; done
    echo ")"
  } >"$EW/go.mod"
  rm -f "$EW/go.sum"
  rm -f "$BIN/etcd"
  build_one "$EW" go.etcd.io/etcd/server/v3 etcd "-s -w"
  # The stamp records the *requested* version so the fast path matches next time.
  echo "$ETCD_VERSION" >"$BIN/.etcd-version"
  [[ $ETCD_RESOLVED == "$ETCD_VERSION" ]] || log "NOTE: etcd $ETCD_RESOLVED was built in place of $ETCD_VERSION"
fi

# ---- coredns (node only): its module has no replace directives, so plain `go install` works --
if [[ $NODE == 1 ]] && [[ ! -x $BIN/coredns || "$(cat "$BIN/.coredns-version" 2>/dev/null)" != "$COREDNS_VERSION" ]]; then
  t=$(now)
  log "go install github.com/coredns/coredns@$COREDNS_VERSION ..."
  rm -f "$BIN/coredns"
  (cd /tmp && GOFLAGS="-buildvcs=false ${MQOP_GOFLAGS:-}" GOBIN="$BIN" go install -trimpath -ldflags "-s -w" \
    "github.com/coredns/coredns@$COREDNS_VERSION") || die "go install coredns@$COREDNS_VERSION failed"
  echo "$COREDNS_VERSION" >"$BIN/.coredns-version"
  log "built coredns in $(($(now) - t))s ($(du -h "$BIN/coredns" | cut -f1))"
  echo "coredns $(($(now) - t))s $(du -h "$BIN/coredns" | cut -f1)" >>"$ROOT/build-times.txt"
fi

[[ $RESOLVED == "$K8S_VERSION" ]] || echo "$RESOLVED" >"$CACHE/k8s/$K8S_VERSION.resolved"
log "versions: $("$BIN/kubectl" version --client 2>/dev/null | head -1); etcd $("$BIN/etcd" --version | head -1)"
log "done in $(($(now) - T0))s; binaries in $BIN:"
shown=("${KUBE_CMDS[@]}" etcd)
[[ $NODE == 1 ]] && shown+=(coredns)
(cd "$BIN" && ls -la "${shown[@]}" >&2)
echo "$BIN"
