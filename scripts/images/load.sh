#!/usr/bin/env bash
# Imports the broker images built by scripts/images/build-brokers.sh (OCI tarballs under
# ${MQOP_CACHE:-$HOME/.cache/mqop}/images/<engine>.oci.tar) and mqop:dev (from docker, when docker
# has it) into a containerd, namespace k8s.io (the CRI's), e.g. the host cluster's:
#   source <dir>/env && scripts/images/load.sh "$MQOP_CONTAINERD_SOCK" [engine...]
# Images already present with the same digest are skipped by containerd itself (import is cheap
# then). Env: MQOP_LOAD_MQOP=0 skips mqop:dev (host-up.sh loads it already).
set -euo pipefail

SOCK=${1:?usage: load.sh <containerd-socket> [engine...]}
shift
CACHE="${MQOP_CACHE:-$HOME/.cache/mqop}/images"
engines=("$@")
((${#engines[@]})) || engines=(redis rabbitmq kafka activemq rocketmq)
log() { printf '[load] %s\n' "$*" >&2; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }'; }
ctr() { command ctr -a "$SOCK" -n k8s.io "$@"; }
ctr version >/dev/null || { log "ERROR: no containerd answers on $SOCK"; exit 1; }

for e in "${engines[@]}"; do
  tar="$CACHE/$e.oci.tar"
  [[ -e $tar ]] || { log "ERROR: $tar missing; run scripts/images/build-brokers.sh $e"; exit 1; }
  t=$EPOCHREALTIME
  ctr images import "$tar" >/dev/null
  log "$e: imported $(readlink "$tar" || basename "$tar") in $(since "$t")"
done
if [[ ${MQOP_LOAD_MQOP:-1} != 0 ]] && command -v docker >/dev/null && docker image inspect mqop:dev >/dev/null 2>&1; then
  t=$EPOCHREALTIME
  docker save mqop:dev | ctr images import - >/dev/null
  log "mqop:dev: imported from docker in $(since "$t")"
fi
ctr images ls -q | grep -v '^sha256:' >&2
