#!/usr/bin/env bash
# Storage for the host cluster. No dynamic provisioner: a default StorageClass "standard"
# (kubernetes.io/no-provisioner, WaitForFirstConsumer) and <count> static `local` PersistentVolumes,
# each a directory under <dir>/pv pinned to the node. `local` volumes honour the Pod's fsGroup
# (the kubelet chowns them), so the non-root brokers can write. Capacity is nominal (100Gi, not
# enforced), so any claim binds. A PV whose claim was deleted stays Released (reclaim policy
# Retain, no recycler): running this again adds PVs up to <count> Available ones. host-down.sh and
# down.sh remove the directories with the rest of <dir>.
# Usage: scripts/cluster/host-pvs.sh <dir> [count]     (count default 64)
set -euo pipefail
dir=$(cd "${1:?usage: host-pvs.sh <dir> [count]}" && pwd)
want=${2:-64}
# shellcheck disable=SC1091
source "$dir/env"
kubectl() { "$MQOP_K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG" "$@"; }
node=$(kubectl get nodes -o jsonpath='{.items[0].metadata.name}')
have=$(kubectl get pv -l mqop.dev/host-pv -o jsonpath='{range .items[?(@.status.phase=="Available")]}{.metadata.name}{"\n"}{end}' | grep -c . || true)
next=$(($(kubectl get pv -l mqop.dev/host-pv -o name | wc -l) + 1))
{
  cat <<YAML
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: { storageclass.kubernetes.io/is-default-class: "true" }
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Retain
YAML
  for ((i = next; i < next + want - have; i++)); do
    n=$(printf '%03d' "$i")
    mkdir -p "$dir/pv/pv$n" && chmod 0777 "$dir/pv/pv$n"
    cat <<YAML
---
apiVersion: v1
kind: PersistentVolume
metadata: { name: local-pv$n, labels: { mqop.dev/host-pv: "true" } }
spec:
  capacity: { storage: 100Gi }
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: standard
  local: { path: $dir/pv/pv$n }
  nodeAffinity:
    required:
      nodeSelectorTerms: [{ matchExpressions: [{ key: kubernetes.io/hostname, operator: In, values: [$node] }] }]
YAML
  done
} | kubectl apply -f - >/dev/null
