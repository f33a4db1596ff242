#!/usr/bin/env bash
# Installs the chart tools from the Go module proxy into a cache and prints the bin dir:
#   ${MQOP_CACHE:-$HOME/.cache/mqop}/bin/{helm,kube-score}
#
# Usage: scripts/chart/tools.sh          (bin dir on stdout; progress on stderr)
# Env:   MQOP_HELM_VERSION       (default v3.22.0)  helm.sh/helm/v3
#        MQOP_KUBE_SCORE_VERSION (default v1.20.0)  github.com/zegl/kube-score (the only version
#                                                   the proxy lists)
#        MQOP_CACHE              (default $HOME/.cache/mqop)
#
# Idempotent: each binary has a stamp file recording exactly how it was built; when binary and
# stamp match, nothing runs (a warm call takes well under a second). A cold build of both takes
# about 4 minutes. Binaries are built into a temp dir and moved into place, so an interrupted
# build never leaves a half-written tool behind.
#
# kube-linter is not installed: golang.stackrox.io/kube-linter is not served by the Go module
# proxy, and github.com/stackrox/kube-linter answers 403 ("not available").
set -euo pipefail

HELM_VERSION="${MQOP_HELM_VERSION:-v3.22.0}"
KUBE_SCORE_VERSION="${MQOP_KUBE_SCORE_VERSION:-v1.20.0}"
CACHE="${MQOP_CACHE:-$HOME/.cache/mqop}"
BIN="$CACHE/bin"

log() { printf '[chart-tools] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false"
mkdir -p "$BIN"

# install <name> <package@version> <ldflags>
install() {
  local name=$1 pkg=$2 ldflags=$3
  local stamp="$BIN/.$name.stamp" want="$pkg $ldflags"
  if [[ -x $BIN/$name && -f $stamp && $(<"$stamp") == "$want" ]]; then
    return 0
  fi
  command -v go >/dev/null || die "go is not on PATH"
  log "building $pkg (one-time, cached in $BIN)"
  local tmp t0=$SECONDS
  tmp=$(mktemp -d "$BIN/.build.XXXXXX")
  if ! GOBIN="$tmp" go install -trimpath -ldflags "-s -w $ldflags" "$pkg" >&2; then
    rm -rf "$tmp"
    die "go install $pkg failed"
  fi
  mv -f "$tmp/$name" "$BIN/$name"
  rm -rf "$tmp"
  printf '%s' "$want" >"$stamp"
  log "$name ready in $((SECONDS - t0))s"
}

# What helm's Makefile sets: its version, and the Kubernetes version `helm template` and
# `helm lint` assume without a cluster (client-go v0.37 -> 1.37). Without the latter, helm
# assumes v1.20 and refuses charts whose kubeVersion needs more.
helm_ld="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for p in pkg/lint/rules pkg/chartutil; do
  helm_ld+=" -X helm.sh/helm/v3/$p.k8sVersionMajor=1 -X helm.sh/helm/v3/$p.k8sVersionMinor=37"
done
install helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" "$helm_ld"
install kube-score "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION" \
  "-X main.version=${KUBE_SCORE_VERSION#v}"

echo "$BIN"
