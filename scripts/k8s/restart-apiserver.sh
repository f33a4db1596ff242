#!/usr/bin/env bash
# Restarts only kube-apiserver of the control plane in <dir> (same flags, same port, same etcd,
# so all objects survive), and waits until /readyz is ok again.
# Usage: scripts/k8s/restart-apiserver.sh <dir> [seconds-to-stay-down]
#   seconds-to-stay-down (default 0) lets a test observe the outage (watch errors, retries).
# Env: MQOP_APISERVER_STOP_GRACE (default 2: seconds between SIGTERM and SIGKILL),
#      MQOP_K8S_READY_TIMEOUT (default 120)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dir=${1:?usage: restart-apiserver.sh <dir> [seconds-to-stay-down]}
down_for=${2:-0}
dir=$(cd "$dir" && pwd)
[[ -f $dir/pids && -f $dir/kube-apiserver.args ]] || kdie "$dir is not a running control plane (see up.sh)"

t0=$SECONDS
pid=$(pid_of "$dir" kube-apiserver)
# On SIGTERM kube-apiserver drains in-flight requests and closes its listener within
# milliseconds, but then lingers ~60s while open watches time out. So after a short grace it
# gets SIGKILL, which also drops those watch connections, as a crashed/rolled apiserver would.
if [[ -n $pid ]]; then stop_pid "$pid" kube-apiserver "${MQOP_APISERVER_STOP_GRACE:-2}"; fi
# The port is fixed in the args: wait for the old listener to go away before binding again.
port=$(sed -n 's/^MQOP_APISERVER_PORT=//p' "$dir/env" | tr -d "'")
for ((i = 0; i < 100; i++)); do port_in_use "$port" || break; sleep 0.1; done
[[ $down_for == 0 ]] || { klog "kube-apiserver stays down for ${down_for}s"; sleep "$down_for"; }
start_component "$dir" kube-apiserver
wait_ready "$dir" "${MQOP_K8S_READY_TIMEOUT:-120}"
klog "kube-apiserver restarted and ready in $((SECONDS - t0))s"
