#!/usr/bin/env bash
# Brings up the host cluster, loads the broker images (scripts/images/load.sh), installs mqop with
# its chart and applies the given engines' MessageQueues from examples/kind/all-engines.yaml (one
# replica, ephemeral storage), then waits for Ready and SmokeTestPassed and prints the times.
# On a failure or timeout it prints the MessageQueue status, events, pods and container logs.
# Tears the cluster down at the end (unless MQOP_KEEP=1).
#
# Usage: scripts/cluster/host-engines.sh <engine...>     (rabbitmq redis kafka activemq rocketmq zeromq)
# Env:   MQOP_ENGINE_TIMEOUT   seconds to wait per engine for Ready + SmokeTestPassed (default 300)
#        MQOP_HOST_DIR         cluster dir (default: a new /tmp/mqop-host.XXXXXX, removed at the end
#                              unless MQOP_KEEP_DIR=1)
#        MQOP_ENGINE_VERSIONS  spec.version per engine, e.g. "rabbitmq=3.10.8" (space separated);
#                              default: none (the renderer's default version)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
HELM=${MQOP_HELM:-$HOME/.cache/mqop/bin/helm}
TIMEOUT=${MQOP_ENGINE_TIMEOUT:-300}
(($#)) || { echo "usage: host-engines.sh <engine...>" >&2; exit 2; }
dir=${MQOP_HOST_DIR:-$(mktemp -d /tmp/mqop-host.XXXXXX)}
say() { printf '[engines] %s\n' "$*" >&2; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
cleanup() {
  [[ ${MQOP_KEEP:-0} != 1 ]] || return 0
  "$HERE/host-down.sh" "$dir"
  # a temporary dir holds ~1 GB (containerd's content store); keep it only when asked
  if [[ -z ${MQOP_HOST_DIR:-} && ${MQOP_KEEP_DIR:-0} != 1 ]]; then rm -rf "$dir"; fi
}
trap cleanup EXIT

T0=$EPOCHREALTIME
"$HERE/host-up.sh" "$dir"
# shellcheck disable=SC1091
source "$dir/env"
export KUBECONFIG PATH="$MQOP_K8S_BIN:$PATH"
brokers=()
for e in "$@"; do [[ $e == zeromq ]] || brokers+=("$e"); done
((${#brokers[@]} == 0)) || MQOP_LOAD_MQOP=0 "$ROOT/scripts/images/load.sh" "$MQOP_CONTAINERD_SOCK" "${brokers[@]}"
say "cluster + images in $(since "$T0")s"

t=$EPOCHREALTIME
"$HELM" install mqop "$ROOT/charts/mqop" --namespace mqop-system --create-namespace --wait --timeout 120s \
  --set image.registry=docker.io --set image.repository=library/mqop --set image.tag=dev \
  --set image.pullPolicy=Never --set replicaCount=1 >/dev/null
say "helm install --wait: $(since "$t")s"

# The engine's document from the kind preset.
doc() {
  local v="" kv
  for kv in ${MQOP_ENGINE_VERSIONS:-}; do [[ ${kv%%=*} != "$1" ]] || v=${kv#*=}; done
  awk -v e="$1" -v v="$v" 'BEGIN { RS = "---\n" } $0 ~ "engine: " e "\n" {
    if (v != "") sub("engine: " e "\n", "engine: " e "\n  version: \"" v "\"\n")
    printf "---\n%s", $0 }' "$ROOT/examples/kind/all-engines.yaml"
}
cond() { kubectl get mq "$1" -o jsonpath="{.status.conditions[?(@.type==\"$2\")].status}" 2>/dev/null; }

declare -A name start ready smoke
for e in "$@"; do
  name[$e]=$(doc "$e" | awk '/^metadata:/ { for (i = 1; i <= NF; i++) if ($i == "name:") { sub(",", "", $(i + 1)); print $(i + 1) } }')
  [[ -n ${name[$e]} ]] || { say "no $e document in examples/kind/all-engines.yaml"; exit 1; }
  doc "$e" | kubectl apply -f - >/dev/null
  start[$e]=$EPOCHREALTIME
done
pending=("$@")
while ((${#pending[@]})); do
  left=()
  for e in "${pending[@]}"; do
    n=${name[$e]}
    [[ -n ${ready[$e]:-} ]] || { [[ $(cond "$n" Ready) == True ]] && ready[$e]=$(since "${start[$e]}") && say "$e ($n): Ready after ${ready[$e]}s"; }
    [[ -n ${smoke[$e]:-} ]] || { [[ $(cond "$n" SmokeTestPassed) == True ]] && smoke[$e]=$(since "${start[$e]}") && say "$e ($n): SmokeTestPassed after ${smoke[$e]}s"; }
    if [[ -n ${ready[$e]:-} && -n ${smoke[$e]:-} ]]; then continue; fi
    restarts=$(kubectl get pods -l "app.kubernetes.io/instance=$n" -o jsonpath='{range .items[*]}{range .status.containerStatuses[*]}{.restartCount}{"\n"}{end}{end}' 2>/dev/null | sort -n | tail -1)
    if (($(since "${start[$e]}" | cut -d. -f1) > TIMEOUT)) || ((${restarts:-0} >= 3)); then
      say "$e ($n): FAILED after $(since "${start[$e]}")s (timeout ${TIMEOUT}s; container restarts ${restarts:-0}) (Ready=$(cond "$n" Ready), SmokeTestPassed=$(cond "$n" SmokeTestPassed))"
      kubectl get mq "$n" -o yaml | sed -n '/^status:/,$p' >&2
      kubectl get pods,events -o wide -l "app.kubernetes.io/instance=$n" >&2 || true
      kubectl get events --sort-by=.lastTimestamp 2>/dev/null | grep -i "$n" | tail -20 >&2 || true
      for p in $(kubectl get pods -l "app.kubernetes.io/instance=$n" -o name); do
        kubectl describe "$p" | sed -n '/^Containers:/,/^Conditions:/p' | grep -E 'State|Reason|Exit Code|Message|Ready' >&2 || true
        for c in $(kubectl get "$p" -o jsonpath='{.spec.containers[*].name}'); do
          say "logs of $p -c $c (current, then previous)"
          kubectl logs "$p" -c "$c" --tail=40 >&2 || true
          kubectl logs "$p" -c "$c" --previous --tail=60 >&2 || true
        done
      done
      ready[$e]=${ready[$e]:-FAIL} smoke[$e]=${smoke[$e]:-FAIL}
      continue
    fi
    left+=("$e")
  done
  pending=("${left[@]}")
  ((${#pending[@]} == 0)) || sleep 1
done
kubectl get mq -A >&2
for e in "$@"; do echo "$e ready=${ready[$e]} smoke=${smoke[$e]}"; done
