#!/usr/bin/env bash
# The README's main command: a local Kubernetes cluster on this machine with mqop and one example
# MessageQueue per engine, every one Ready with its smoke test passed. From a fresh clone:
#
#   1. cluster   scripts/cluster/host-up.sh (the host route, docs/local-cluster.md): control plane,
#                containerd, kubelet, kube-proxy, CoreDNS, a default StorageClass. Reused when
#                <dir> already holds a running cluster.
#   2. images    the mqop image (scripts/image/build.sh) and the five broker images
#                (scripts/images/build-brokers.sh), built offline and imported into the node's
#                containerd (scripts/images/load.sh)
#   3. mqop      `helm upgrade --install` of charts/mqop (helm from scripts/chart/tools.sh)
#   4. examples  the engines' documents from examples/kind/all-engines.yaml, server-side applied
#   5. wait      until every MessageQueue is Ready and SmokeTestPassed (or fails: then its status,
#                events, pods and logs are printed and the script exits 1)
#   6. report    `kubectl get mq -A` and the seconds each engine took; also <dir>/engines.tsv
#
# The cluster stays up: `source <dir>/env` gives KUBECONFIG and kubectl; scripts/cluster/down.sh
# stops it and removes everything it added to the host.
#
# Usage: scripts/cluster/up.sh [engine...]     (default: all six; needs root)
# Env:   MQOP_CLUSTER_DIR      cluster state dir (default /var/tmp/mqop-cluster)
#        MQOP_ENGINE_TIMEOUT   seconds per engine for Ready + SmokeTestPassed (default 300)
#        MQOP_ENGINE_VERSIONS  spec.version per engine, space separated (default "rabbitmq=3.10.8":
#                              the offline RabbitMQ image is Debian's 3.10.8, which cannot run the
#                              4.1 rendering; see docs/local-cluster.md)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
dir=${MQOP_CLUSTER_DIR:-/var/tmp/mqop-cluster}
TIMEOUT=${MQOP_ENGINE_TIMEOUT:-300}
VERSIONS=${MQOP_ENGINE_VERSIONS-rabbitmq=3.10.8}
ALL=(rabbitmq redis kafka activemq rocketmq zeromq)
engines=("$@")
((${#engines[@]})) || engines=("${ALL[@]}")
for e in "${engines[@]}"; do
  [[ " ${ALL[*]} " == *" $e "* ]] || { echo "unknown engine: $e (one of: ${ALL[*]})" >&2; exit 2; }
done
say() { printf '[up] %s\n' "$*" >&2; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
[[ $(id -u) == 0 ]] || { say "needs root (kubelet, containerd, a bridge, iptables)"; exit 1; }
T0=$EPOCHREALTIME
declare -A step

# 0. project dependencies (the pinned Node 24 and the app's packages; the image build uses them)
if [[ ! -x $ROOT/node_modules/.bin/node ]]; then
  say "npm ci (first run)"
  (cd "$ROOT" && npm ci --no-audit --no-fund >&2)
fi

# 1. cluster
t=$EPOCHREALTIME
# shellcheck disable=SC1091
if [[ -f $dir/env ]] && (source "$dir/env" && "$MQOP_K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG" \
  --request-timeout=5s get node -o name >/dev/null 2>&1); then
  say "reusing the running cluster in $dir"
else
  [[ ! -e $dir ]] || { "$HERE/host-down.sh" "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"; }
  MQOP_HOST_IMAGES="" "$HERE/host-up.sh" "$dir"
fi
# shellcheck disable=SC1091
source "$dir/env"
export KUBECONFIG PATH="$MQOP_K8S_BIN:$PATH"
step[cluster]=$(since "$t")

# 2. images
t=$EPOCHREALTIME
"$ROOT/scripts/image/build.sh" >/dev/null
brokers=()
for e in "${engines[@]}"; do [[ $e == zeromq ]] || brokers+=("$e"); done
((${#brokers[@]} == 0)) || "$ROOT/scripts/images/build-brokers.sh" "${brokers[@]}" >/dev/null
step[build]=$(since "$t")
t=$EPOCHREALTIME
MQOP_LOAD_MQOP=1 "$ROOT/scripts/images/load.sh" "$MQOP_CONTAINERD_SOCK" "${brokers[@]}" 2>&1 | grep -v '^docker.io\|^mqop' >&2
step[load]=$(since "$t")

# 3. mqop. Helm installs a chart's crds/ only on first install and never upgrades them, so the
#    CRD is applied first (server-side, as docs/gitops.md recommends).
t=$EPOCHREALTIME
kubectl apply --server-side --force-conflicts --field-manager=mqop-up -f "$ROOT/crds/" >/dev/null
HELM="$("$ROOT/scripts/chart/tools.sh")/helm"
# The tag stays mqop:dev; the image id in a pod annotation rolls the operator out when a rebuilt
# image was loaded into a reused cluster.
image_id=$(docker image inspect mqop:dev -f '{{.Id}}')
# rbac.rabbitmqLegacyDiscovery: the e2e suite scales a RabbitMQ 3.10 cluster (07-scale), whose peer
# discovery needs the Role the chart grants only with this value.
# An interrupted earlier run can leave the release "pending-*", which blocks every upgrade.
if "$HELM" status mqop -n mqop-system 2>/dev/null | grep -q '^STATUS: pending-'; then
  say "helm release mqop was left pending by an interrupted run: rolling it back"
  "$HELM" rollback mqop -n mqop-system --wait --timeout 120s >/dev/null
fi
"$HELM" upgrade --install mqop "$ROOT/charts/mqop" --namespace mqop-system --create-namespace \
  --wait --timeout 180s --set image.registry=docker.io --set image.repository=library/mqop \
  --set image.tag=dev --set image.pullPolicy=Never --set replicaCount=1 \
  --set rbac.rabbitmqLegacyDiscovery=true \
  --set-string "podAnnotations.mqop\.dev/image-id=${image_id:7:12}" >/dev/null
step[mqop]=$(since "$t")
say "cluster ${step[cluster]}s, images built ${step[build]}s, loaded ${step[load]}s, helm ${step[mqop]}s"

# 4. examples: each engine's document from the kind preset, with the spec.version overrides
doc() {
  local v="" kv
  for kv in $VERSIONS; do [[ ${kv%%=*} != "$1" ]] || v=${kv#*=}; done
  awk -v e="$1" -v v="$v" 'BEGIN { RS = "---\n" } $0 ~ "engine: " e "\n" {
    if (v != "") sub("engine: " e "\n", "engine: " e "\n  version: \"" v "\"\n")
    printf "---\n%s", $0 }' "$ROOT/examples/kind/all-engines.yaml"
}
cond() { kubectl get mq "$1" -o jsonpath="{.status.conditions[?(@.type==\"$2\")].status}" 2>/dev/null; }
declare -A name start ready smoke
for e in "${engines[@]}"; do
  name[$e]=$(doc "$e" | awk '/^metadata:/ { for (i = 1; i <= NF; i++) if ($i == "name:") { sub(",", "", $(i + 1)); print $(i + 1) } }')
  [[ -n ${name[$e]} ]] || { say "no $e document in examples/kind/all-engines.yaml"; exit 1; }
  doc "$e" | kubectl apply --server-side --field-manager=mqop-up -f - >/dev/null
  start[$e]=$EPOCHREALTIME
done

# 5. wait
failed=()
pending=("${engines[@]}")
while ((${#pending[@]})); do
  left=()
  for e in "${pending[@]}"; do
    n=${name[$e]}
    [[ -n ${ready[$e]:-} ]] || { [[ $(cond "$n" Ready) == True ]] && ready[$e]=$(since "${start[$e]}") && say "$e ($n): Ready after ${ready[$e]}s"; }
    [[ -n ${smoke[$e]:-} ]] || { [[ $(cond "$n" SmokeTestPassed) == True ]] && smoke[$e]=$(since "${start[$e]}") && say "$e ($n): SmokeTestPassed after ${smoke[$e]}s"; }
    [[ -z ${ready[$e]:-} || -z ${smoke[$e]:-} ]] || continue
    restarts=$(kubectl get pods -l "app.kubernetes.io/instance=$n" -o jsonpath='{range .items[*]}{range .status.containerStatuses[*]}{.restartCount}{"\n"}{end}{end}' 2>/dev/null | sort -n | tail -1)
    if (($(since "${start[$e]}" | cut -d. -f1) > TIMEOUT)) || ((${restarts:-0} >= 3)); then
      say "$e ($n): FAILED after $(since "${start[$e]}")s (timeout ${TIMEOUT}s; container restarts ${restarts:-0}) (Ready=$(cond "$n" Ready), SmokeTestPassed=$(cond "$n" SmokeTestPassed))"
      kubectl get mq "$n" -o yaml | sed -n '/^status:/,$p' >&2
      kubectl get pods -o wide -l "app.kubernetes.io/instance=$n" >&2 || true
      kubectl get events --sort-by=.lastTimestamp 2>/dev/null | grep -i "$n" | tail -20 >&2 || true
      for p in $(kubectl get pods -l "app.kubernetes.io/instance=$n" -o name); do
        for c in $(kubectl get "$p" -o jsonpath='{.spec.containers[*].name}'); do
          say "logs of $p -c $c (current, then previous)"
          kubectl logs "$p" -c "$c" --tail=40 >&2 || true
          kubectl logs "$p" -c "$c" --previous --tail=60 >&2 2>/dev/null || true
        done
      done
      ready[$e]=${ready[$e]:-FAIL} smoke[$e]=${smoke[$e]:-FAIL}
      failed+=("$e")
      continue
    fi
    left+=("$e")
  done
  pending=("${left[@]}")
  ((${#pending[@]} == 0)) || sleep 1
done

# 6. report
kubectl get mq -A
printf '\n%-9s %-7s %10s %16s\n' ENGINE NAME READY_S SMOKE_PASSED_S
: >"$dir/engines.tsv"
for e in "${engines[@]}"; do
  printf '%-9s %-7s %10s %16s\n' "$e" "${name[$e]}" "${ready[$e]}" "${smoke[$e]}"
  printf '%s\t%s\t%s\t%s\n' "$e" "${name[$e]}" "${ready[$e]}" "${smoke[$e]}" >>"$dir/engines.tsv"
done
printf '\ncluster %ss · images built %ss, loaded %ss · helm install %ss · total %ss\n' \
  "${step[cluster]}" "${step[build]}" "${step[load]}" "${step[mqop]}" "$(since "$T0")"
printf 'kubectl: source %s/env   (exports KUBECONFIG, puts kubectl on PATH)\n' "$dir"
printf 'stop:    scripts/cluster/down.sh\n'
((${#failed[@]} == 0)) || { say "failed: ${failed[*]}"; exit 1; }
