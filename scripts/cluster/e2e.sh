#!/usr/bin/env bash
# The end-to-end suite, one command (`npm run test:e2e`): brings up the local cluster with mqop and
# all six example engines (scripts/cluster/up.sh, the README's main command; reused when it is
# already running in MQOP_CLUSTER_DIR), then runs operator/test/e2e/*.test.ts against it with real
# pods, then stops the cluster again if this script started it (MQOP_E2E_KEEP=1 keeps it).
#
# Usage: scripts/cluster/e2e.sh [test file...]     (default: all of operator/test/e2e/*.test.ts)
# Env:   MQOP_CLUSTER_DIR (default /var/tmp/mqop-cluster), MQOP_ENGINE_TIMEOUT (as up.sh)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export MQOP_CLUSTER_DIR=${MQOP_CLUSTER_DIR:-/var/tmp/mqop-cluster}
started=0
# shellcheck disable=SC1091
if ! [[ -f $MQOP_CLUSTER_DIR/env ]] || ! (source "$MQOP_CLUSTER_DIR/env" &&
  "$MQOP_K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG" --request-timeout=5s get node -o name >/dev/null 2>&1); then
  started=1
fi
stop() {
  if [[ $started == 1 && ${MQOP_E2E_KEEP:-0} != 1 ]]; then "$HERE/down.sh" || true; fi
}
trap stop EXIT
"$HERE/up.sh"
# shellcheck disable=SC1091
source "$MQOP_CLUSTER_DIR/env"
export KUBECONFIG MQOP_K8S_BIN
tests=("$@")
((${#tests[@]})) || tests=("$ROOT"/operator/test/e2e/*.test.ts)
cd "$ROOT"
node_modules/.bin/node --test --test-reporter=spec --test-concurrency=1 "${tests[@]}"
