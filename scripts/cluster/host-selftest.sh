#!/usr/bin/env bash
# End-to-end proof of the host-route cluster: host-up.sh, then a ZeroMQ proxy Pod (the mqop image)
# and a client Pod (scripts/cluster/host-selftest.yaml) must reach Running/Ready; `kubectl logs`
# must show the proxy's start line; the client must reach the proxy by Pod IP, Service IP and
# DNS name, and the apiserver through the "kubernetes" Service with its ServiceAccount token and
# CA; then host-down.sh (unless MQOP_KEEP=1). Prints timings.
# Usage: scripts/cluster/host-selftest.sh [dir]   (default: a new temp dir)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir=${1:-$(mktemp -d /tmp/mqop-host.XXXXXX)}
say() { printf '=== %s\n' "$*"; }
T0=$EPOCHREALTIME
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }'; }
cleanup() { [[ ${MQOP_KEEP:-0} == 1 ]] || "$HERE/host-down.sh" "$dir"; }
trap cleanup EXIT

say "host-up.sh $dir"
"$HERE/host-up.sh" "$dir"
T_UP=$(since "$T0")
# shellcheck disable=SC1091
source "$dir/env"
export KUBECONFIG
k() { "$MQOP_K8S_BIN/kubectl" "$@"; }

say "apply the proxy Pod, its Service and a client Pod"
T1=$EPOCHREALTIME
k apply -f "$HERE/host-selftest.yaml"
k wait --for=condition=Ready pod/zmq-proxy pod/client --timeout=180s
T_POD=$(since "$T1")
k get pods -o wide

say "kubectl logs"
logs=$(k logs zmq-proxy)
printf '%s\n' "$logs" | head -3
grep -q '"msg":"forwarding"' <<<"$logs"

pod_ip=$(k get pod zmq-proxy -o jsonpath='{.status.podIP}')
svc_ip=$(k get svc zmq-proxy -o jsonpath='{.spec.clusterIP}')
get() { # <url> : GET from inside the client Pod, prints "<url> <status> <body>"
  k exec client -- node -e '
    fetch(process.argv[1]).then(async (r) => console.log(process.argv[1], r.status, (await r.text()).trim()))
      .catch((e) => { console.error(process.argv[1], "FAILED", e.cause?.code ?? e.message); process.exit(1); })' "$1"
}
say "client -> proxy by Pod IP, Service IP, DNS names"
get "http://$pod_ip:8080/healthz"
get "http://$svc_ip/healthz"
get "http://zmq-proxy/healthz"
get "http://zmq-proxy.default.svc.cluster.local/healthz"

say "client -> apiserver via the kubernetes Service (ServiceAccount token, cluster CA)"
k exec client -- node -e '
  const fs = require("fs"), https = require("https"), d = "/var/run/secrets/kubernetes.io/serviceaccount/";
  https.get({ host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT,
      path: "/version", ca: fs.readFileSync(d + "ca.crt"),
      headers: { Authorization: "Bearer " + fs.readFileSync(d + "token", "utf8") } }, (r) => {
    let b = ""; r.on("data", (c) => (b += c));
    r.on("end", () => { console.log(r.statusCode, JSON.parse(b).gitVersion); process.exit(r.statusCode === 200 ? 0 : 1); });
  }).on("error", (e) => { console.error(e.message); process.exit(1); });'

say "timings: host-up $T_UP, pods Ready $T_POD after apply, total $(since "$T0") before host-down"
say "HOST SELFTEST OK"
