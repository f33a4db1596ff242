#!/usr/bin/env bash
# End-to-end check of the throwaway control plane: build (cached), up, install the mqop CRD,
# CEL validation accepts a valid MessageQueue and rejects an invalid one, the controller-manager
# creates a StatefulSet's Pods, kube-apiserver restarts with state intact and the
# controller-manager recovers, the audit log records writes, down.
# Usage: scripts/k8s/selftest.sh [dir]   (default: a new temp dir, removed on success)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dir=${1:-$(mktemp -d "${TMPDIR:-/tmp}/mqop-k8s-selftest.XXXXXX")}
keep=${1:+1}

step() { printf '\n=== %s\n' "$*"; }
fail() { printf 'SELFTEST FAILED: %s (state kept in %s)\n' "$*" "$dir"; exit 1; }
trap '"$here/down.sh" "$dir" >/dev/null 2>&1 || true' EXIT

step "build (cached after the first run)"
BIN=$("$here/build.sh")
export MQOP_K8S_BIN=$BIN KUBECONFIG=$dir/kubeconfig
k() { "$BIN/kubectl" "$@"; }

step "up"
"$here/up.sh" "$dir"
k version

step "install the CRD (server-side apply)"
k apply --server-side -f "$repo/crds/messagequeues.mqop.dev.yaml"
k wait --for=condition=Established --timeout=60s crd/messagequeues.mqop.dev

step "a valid MessageQueue is accepted"
k apply -f - <<'EOF'
apiVersion: mqop.dev/v1alpha1
kind: MessageQueue
metadata: {name: orders, namespace: default}
spec: {engine: kafka, replicas: 3}
EOF

step "an invalid MessageQueue is rejected by CEL"
if out=$(k apply -f - 2>&1 <<'EOF'
apiVersion: mqop.dev/v1alpha1
kind: MessageQueue
metadata: {name: orders-even, namespace: default}
spec: {engine: kafka, replicas: 2}
EOF
); then fail "replicas: 2 for kafka was accepted: $out"; fi
echo "$out"
grep -q 'replicas for kafka must be one of 1, 3, 5, 7, 9' <<<"$out" || fail "unexpected rejection: $out"

step "the controller-manager creates a StatefulSet's Pods (Pending: no scheduler/kubelet)"
k apply -f - <<'EOF'
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web, namespace: default}
spec:
  serviceName: web
  replicas: 2
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: registry.invalid/never-pulled:1}]
EOF
wait_pods() { # <count> <timeout>
  local i
  for ((i = 0; i < $2; i++)); do
    [[ $(k get pods -l app=web --no-headers 2>/dev/null | wc -l) -ge $1 ]] && return 0
    sleep 1
  done
  return 1
}
wait_pods 2 60 || fail "no Pods for the StatefulSet after 60s"
k get statefulset,pods -o wide

step "restart kube-apiserver: objects survive, the controller-manager reconnects"
"$here/restart-apiserver.sh" "$dir"
k get messagequeue orders -o jsonpath='{.metadata.name}: {.spec}{"\n"}'
k scale statefulset web --replicas=3
t=$SECONDS
wait_pods 3 120 || fail "controller-manager did not create web-2 within 120s of an apiserver restart"
echo "web-2 created $((SECONDS - t))s after the scale-up"

step "the audit log records write requests"
grep -c '"verb":"create"' "$dir/audit.log"
grep '"resource":"messagequeues"' "$dir/audit.log" | grep -o '"verb":"[a-z]*"\|"username":"[^"]*"\|"code":[0-9]*' | paste -sd' ' | head -c 600
echo

step "down"
"$here/down.sh" "$dir"
trap - EXIT
[[ -n $keep ]] || rm -rf "$dir"
echo
echo "SELFTEST OK"
