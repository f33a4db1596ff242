#!/usr/bin/env bash
# Stops the local cluster that scripts/cluster/up.sh started (scripts/cluster/host-down.sh) and
# removes its state dir (MQOP_CLUSTER_DIR, default /var/tmp/mqop-cluster; ~1.5 GB: containerd's
# images, the PV directories, logs). MQOP_KEEP_DIR=1 keeps the dir (logs) for a look afterwards.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir=${MQOP_CLUSTER_DIR:-/var/tmp/mqop-cluster}
[[ -d $dir ]] || { echo "[down] no cluster dir $dir" >&2; exit 0; }
"$HERE/host-down.sh" "$dir"
[[ ${MQOP_KEEP_DIR:-0} == 1 ]] || rm -rf "$dir"
