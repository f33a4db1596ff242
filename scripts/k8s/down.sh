#!/usr/bin/env bash
# Stops the control plane that scripts/k8s/up.sh started in <dir>: SIGTERM, then SIGKILL after a
# grace period. Only the pids recorded in <dir>/pids are touched, and only while they still run
# the binary that was started (a reused pid is left alone). Leaves <dir> in place (logs, audit log).
# Usage: scripts/k8s/down.sh <dir>
# Env:   MQOP_K8S_STOP_GRACE (seconds before SIGKILL, default 10; kube-apiserver:
#        MQOP_APISERVER_STOP_GRACE, default 2)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dir=${1:?usage: down.sh <dir>}
[[ -d $dir ]] || kdie "no such dir: $dir"
dir=$(cd "$dir" && pwd)
[[ -f $dir/pids ]] || { klog "no $dir/pids: nothing to stop"; exit 0; }

# Reverse dependency order: clients first, etcd last.
for name in kube-controller-manager kube-apiserver etcd; do
  pid=$(pid_of "$dir" "$name")
  grace=${MQOP_K8S_STOP_GRACE:-10}
  # kube-apiserver closes its listener at once on SIGTERM but lingers ~60s for open watches.
  if [[ $name == kube-apiserver ]]; then grace=${MQOP_APISERVER_STOP_GRACE:-2}; fi
  if [[ -n $pid ]]; then stop_pid "$pid" "$name" "$grace"; fi
done
mv -f "$dir/pids" "$dir/pids.stopped"
klog "control plane in $dir is down"
