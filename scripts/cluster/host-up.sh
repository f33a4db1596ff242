#!/usr/bin/env bash
# The "host route" local cluster: a one-node Kubernetes cluster whose node is this machine.
# No container runs privileged and no kind/podman is involved; every process runs on the host:
#
#   etcd, kube-apiserver, kube-controller-manager   scripts/k8s/up.sh (apiserver on the bridge IP)
#   kube-scheduler                                  127.0.0.1
#   containerd (Debian's)                           own config/root/state/socket under <dir>
#   CNI: bridge + host-local + loopback + portmap   Debian's containernetworking-plugins, on a
#                                                   bridge this script creates (mqop0, 10.244.0.1/24)
#   kubelet                                         cgroupfs driver (cgroup v1), serves on the bridge IP
#   kube-proxy (iptables mode)                      Service IPs 10.96.0.0/16
#   coredns                                         host process on 10.244.0.1:53 (clusterDNS)
#   pause image                                     our own static Go binary, written as an OCI
#                                                   tarball and imported into containerd
#
# All state lives under <dir>; everything listens on 127.0.0.1 or on the bridge's address.
# scripts/cluster/host-down.sh <dir> stops it all and removes what was added to the host
# (bridge, iptables rules and chains, mounts, cgroups, network namespaces).
#
# Usage: scripts/cluster/host-up.sh <dir>
# Env:   MQOP_HOST_IMAGES   docker images to load into the node's containerd (default: mqop:dev
#                           when docker has it); space separated
#        MQOP_POD_CIDR      (default 10.244.0.0/24; the bridge gets its .1)
#        MQOP_NODE_NAME     (default mqop-node)
#        MQOP_BRIDGE        (default mqop0)
#        MQOP_K8S_BIN       binaries (default: scripts/k8s/build.sh --node)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR/../k8s
source "$ROOT/scripts/k8s/lib.sh"
hlog() { printf '[host] %s\n' "$*" >&2; }
hdie() { hlog "ERROR: $*"; exit 1; }
T0=$EPOCHREALTIME
elapsed() { awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }'; }

dir=${1:?usage: host-up.sh <dir>}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
[[ $(id -u) == 0 ]] || hdie "needs root (kubelet, containerd, bridge, iptables)"

POD_CIDR=${MQOP_POD_CIDR:-10.244.0.0/24}
NODE_IP=${POD_CIDR%.*}.1
PREFIX=${POD_CIDR#*/}
NODE_NAME=${MQOP_NODE_NAME:-mqop-node}
BRIDGE=${MQOP_BRIDGE:-mqop0}
DNS_IP=$NODE_IP           # coredns runs on the host, on the bridge address
CLUSTER_DOMAIN=cluster.local
SANDBOX_IMAGE=mqop.local/pause:1.0

if [[ -f $dir/pids ]]; then
  for n in containerd kubelet kube-scheduler kube-proxy coredns; do
    is_ours "$(pid_of "$dir" "$n")" "$n" && hdie "$dir already has a running $n; run host-down.sh first"
  done
fi
ip link show "$BRIDGE" >/dev/null 2>&1 && hdie "bridge $BRIDGE already exists (another host cluster? run host-down.sh)"
# host-down.sh treats the kubepods cgroups and all KUBE-* iptables chains as its own: one node per host.
[[ -d /sys/fs/cgroup/pids/kubepods ]] &&
  hdie "/sys/fs/cgroup/pids/kubepods exists: another kubelet runs here, or a host cluster was not torn down (host-down.sh <its dir>)"
iptables -S 2>/dev/null | grep -q '^-N KUBE-' &&
  hdie "KUBE-* iptables chains exist: another kube-proxy/kubelet runs here, or a host cluster was not torn down"

# ---- tools -----------------------------------------------------------------------------------
need_pkgs=()
command -v containerd >/dev/null || need_pkgs+=(containerd)
command -v runc >/dev/null || need_pkgs+=(runc)
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] ||
  need_pkgs+=(containernetworking-plugins)
command -v conntrack >/dev/null || need_pkgs+=(conntrack) # kube-proxy clears UDP conntrack entries
command -v iptables >/dev/null || need_pkgs+=(iptables)
if ((${#need_pkgs[@]})); then
  hlog "installing Debian packages: ${need_pkgs[*]}"
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >&2
fi
BIN=${MQOP_K8S_BIN:-}
[[ -n $BIN ]] || BIN=$(MQOP_GOFLAGS="${MQOP_GOFLAGS:--p=1}" nice -n 10 "$ROOT/scripts/k8s/build.sh" --node)
for b in kubelet kube-scheduler kube-proxy coredns kubectl; do
  [[ -x $BIN/$b ]] || hdie "$BIN/$b missing (run scripts/k8s/build.sh --node)"
done
hlog "binaries ready in $BIN ($(elapsed))"

# ---- what the host had before (host-down.sh removes only what we added) ----------------------
command -v nft >/dev/null && nft list tables >"$dir/nft-tables.before" 2>/dev/null
[[ -e /run/containerd ]] || touch "$dir/run-containerd.created" # shim sockets go to /run/containerd/s
[[ -e /run/netns ]] || touch "$dir/run-netns.created"             # the CRI plugin's netns mounts

# From here on, a failure undoes whatever was started (the checks above must not: they guard
# another cluster).
on_exit() {
  local rc=$?
  ((rc == 0)) && return 0
  hlog "failed (exit $rc): tearing down"
  "$HERE/host-down.sh" "$dir" || true
}
trap on_exit EXIT

# ---- bridge (before the apiserver: it binds the bridge address) ------------------------------
ip link add "$BRIDGE" type bridge
ip addr add "$NODE_IP/$PREFIX" dev "$BRIDGE"
ip link set "$BRIDGE" up
echo "$BRIDGE" >"$dir/bridge"
# Docker sets FORWARD's policy to DROP and br_netfilter is on, so even Pod-to-Pod traffic on the
# bridge passes FORWARD: accept what comes from or goes to our bridge (tagged for host-down.sh).
TAG="mqop-host:$BRIDGE"
iptables -I FORWARD 1 -i "$BRIDGE" -m comment --comment "$TAG" -j ACCEPT
iptables -I FORWARD 1 -o "$BRIDGE" -m comment --comment "$TAG" -j ACCEPT
hlog "bridge $BRIDGE $NODE_IP/$PREFIX up ($(elapsed))"

# ---- control plane ---------------------------------------------------------------------------
MQOP_K8S_BIN=$BIN MQOP_APISERVER_ADDRESS=$NODE_IP "$ROOT/scripts/k8s/up.sh" "$dir"
# shellcheck disable=SC1091
source "$dir/env"
SERVER=$MQOP_K8S_SERVER
kubectl() { "$BIN/kubectl" --kubeconfig "$dir/kubeconfig" "$@"; }
hlog "control plane up ($(elapsed))"

# ---- certificates for the node components ----------------------------------------------------
pki=$dir/pki
leaf() { # <name> <subject> <extendedKeyUsage> [subjectAltName]
  [[ -f $pki/$1.crt ]] || pki_leaf "$pki" "$@"
}
leaf kubelet-client "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
leaf kubelet-serving "/CN=$NODE_NAME" serverAuth "IP:$NODE_IP,DNS:$NODE_NAME"
leaf kube-scheduler "/CN=system:kube-scheduler" clientAuth
leaf kube-proxy "/CN=system:kube-proxy" clientAuth
leaf coredns "/CN=mqop:coredns" clientAuth

write_kubeconfig "$BIN/kubectl" "$SERVER" "$pki" "$dir/kubelet.kubeconfig" "system:node:$NODE_NAME" kubelet-client
write_kubeconfig "$BIN/kubectl" "$SERVER" "$pki" "$dir/scheduler.kubeconfig" system:kube-scheduler kube-scheduler
write_kubeconfig "$BIN/kubectl" "$SERVER" "$pki" "$dir/kube-proxy.kubeconfig" system:kube-proxy kube-proxy
write_kubeconfig "$BIN/kubectl" "$SERVER" "$pki" "$dir/coredns.kubeconfig" mqop:coredns coredns
# coredns' kubernetes plugin lists/watches Services, EndpointSlices, Namespaces, Pods
kubectl apply -f - >/dev/null <<'EOF'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: "mqop:coredns" }
rules:
  - apiGroups: [""]
    resources: [endpoints, services, pods, namespaces]
    verbs: [list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: "mqop:coredns" }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "mqop:coredns" }
subjects:
  - { apiGroup: rbac.authorization.k8s.io, kind: User, name: "mqop:coredns" }
EOF

# ---- ports -----------------------------------------------------------------------------------
SCHED_PORT=$(free_port)
KUBELET_PORT=10250
port_in_use $KUBELET_PORT && KUBELET_PORT=$(free_port)
KUBELET_HEALTHZ_PORT=$(free_port)
PROXY_HEALTHZ_PORT=$(free_port)
PROXY_METRICS_PORT=$(free_port)
COREDNS_HEALTH_PORT=$(free_port)
CTRD_METRICS=""

# ---- pause image: our static binary as a one-layer OCI image tarball --------------------------
oci_tar() { # <out.tar> <image-name> <binary> : writes an OCI image layout tarball with /<basename binary>
  local out=$1 name=$2 binary=$3 w base ldig lsize cdig csize mdig msize
  w=$(mktemp -d)
  base=$(basename "$binary")
  mkdir -p "$w/rootfs" "$w/layout/blobs/sha256"
  cp "$binary" "$w/rootfs/$base"
  tar -C "$w/rootfs" --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$w/layer.tar" "$base"
  ldig=$(sha256sum "$w/layer.tar" | cut -d' ' -f1); lsize=$(stat -c %s "$w/layer.tar")
  mv "$w/layer.tar" "$w/layout/blobs/sha256/$ldig"
  printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/%s"],"User":"65535:65535"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$base" "$ldig" >"$w/config.json"
  cdig=$(sha256sum "$w/config.json" | cut -d' ' -f1); csize=$(stat -c %s "$w/config.json")
  mv "$w/config.json" "$w/layout/blobs/sha256/$cdig"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$cdig" "$csize" "$ldig" "$lsize" >"$w/manifest.json"
  mdig=$(sha256sum "$w/manifest.json" | cut -d' ' -f1); msize=$(stat -c %s "$w/manifest.json")
  mv "$w/manifest.json" "$w/layout/blobs/sha256/$mdig"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$mdig" "$msize" "$name" "${name##*:}" >"$w/layout/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$w/layout/oci-layout"
  tar -C "$w/layout" -cf "$out" oci-layout index.json blobs
  rm -rf "$w"
}
PAUSE_BIN=$(dirname "$BIN")/pause
if [[ ! -x $PAUSE_BIN || $HERE/pause/main.go -nt $PAUSE_BIN ]]; then
  (cd "$HERE/pause" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
    go build -trimpath -ldflags "-s -w" -o "$PAUSE_BIN.tmp" .) && mv -f "$PAUSE_BIN.tmp" "$PAUSE_BIN"
fi
mkdir -p "$dir/images"
oci_tar "$dir/images/pause.tar" "$SANDBOX_IMAGE" "$PAUSE_BIN"

# ---- containerd ------------------------------------------------------------------------------
CT=$dir/containerd
SOCK=$CT/containerd.sock
mkdir -p "$CT/root" "$CT/state" "$dir/cni/net.d" "$dir/cni/ipam" "$dir/cni/cache"
cat >"$CT/config.toml" <<EOF
# generated by scripts/cluster/host-up.sh
version = 2
root = "$CT/root"
state = "$CT/state"
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = "$CTRD_METRICS"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$SANDBOX_IMAGE"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  # This machine's capability bounding set lacks CAP_SYS_RESOURCE, so runc can't lower a
  # container's oom_score_adj (kubelet asks -998 for sandboxes: "nsexec: failed to update
  # /proc/self/oom_score_adj: Permission denied"). Clamp to containerd's own value instead.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$CT/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni/net.d"
    max_conf_num = 1
EOF
cat >"$dir/cni/net.d/10-mqop.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "mqop",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$dir/cni/ipam",
        "ranges": [[{ "subnet": "$POD_CIDR", "gateway": "$NODE_IP" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
printf -- '--config=%s\n' "$CT/config.toml" >"$dir/containerd.args"
start_component "$dir" containerd "$(command -v containerd)"
ctr() { command ctr -a "$SOCK" -n k8s.io "$@"; }
start=$SECONDS
until ctr version >/dev/null 2>&1; do
  has_exited "$dir" containerd "$start" && { show_log_tail "$dir" containerd; hdie "containerd exited"; }
  ((SECONDS - start < 60)) || { show_log_tail "$dir" containerd; hdie "containerd not answering after 60s"; }
  sleep 0.2
done
hlog "containerd answers on $SOCK ($(elapsed))"

ctr images import --all-platforms "$dir/images/pause.tar" >&2
images=${MQOP_HOST_IMAGES-}
if [[ -z ${MQOP_HOST_IMAGES+x} ]] && command -v docker >/dev/null && docker image inspect mqop:dev >/dev/null 2>&1; then
  images=mqop:dev
fi
for img in $images; do
  t=$EPOCHREALTIME
  docker save "$img" | ctr images import - >&2
  hlog "loaded $img into containerd in $(awk -v a="$t" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }')"
done

# ---- kube-scheduler --------------------------------------------------------------------------
cat >"$dir/kube-scheduler.args" <<EOF
--kubeconfig=$dir/scheduler.kubeconfig
--authentication-kubeconfig=$dir/scheduler.kubeconfig
--authorization-kubeconfig=$dir/scheduler.kubeconfig
--bind-address=127.0.0.1
--secure-port=$SCHED_PORT
--leader-elect=false
--profiling=false
--v=1
EOF
start_component "$dir" kube-scheduler

# ---- coredns (host process on the bridge address) --------------------------------------------
cat >"$dir/Corefile" <<EOF
.:53 {
    bind $DNS_IP
    errors
    health 127.0.0.1:$COREDNS_HEALTH_PORT
    kubernetes $CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
        kubeconfig $dir/coredns.kubeconfig mqop
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 30
}
EOF
printf -- '-conf=%s\n' "$dir/Corefile" >"$dir/coredns.args"
start_component "$dir" coredns

# ---- kubelet ---------------------------------------------------------------------------------
mkdir -p "$dir/kubelet" "$dir/pod-logs"
cat >"$dir/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
tlsCertFile: $pki/kubelet-serving.crt
tlsPrivateKeyFile: $pki/kubelet-serving.key
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $pki/ca.crt }
authorization: { mode: Webhook }
cgroupDriver: cgroupfs
failSwapOn: false
failCgroupV1: false
containerRuntimeEndpoint: unix://$SOCK
clusterDomain: $CLUSTER_DOMAIN
clusterDNS: [$DNS_IP]
resolvConf: /etc/resolv.conf
podLogsDirectory: $dir/pod-logs
registerNode: true
maxPods: 110
serializeImagePulls: false
imageGCHighThresholdPercent: 100
evictionHard:
  memory.available: 100Mi
  nodefs.available: 2%
  imagefs.available: 2%
EOF
cat >"$dir/kubelet.args" <<EOF
--config=$dir/kubelet-config.yaml
--kubeconfig=$dir/kubelet.kubeconfig
--root-dir=$dir/kubelet
--hostname-override=$NODE_NAME
--node-ip=$NODE_IP
--v=1
EOF
start_component "$dir" kubelet

# ---- kube-proxy ------------------------------------------------------------------------------
cat >"$dir/kube-proxy-config.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: { kubeconfig: $dir/kube-proxy.kubeconfig }
hostnameOverride: $NODE_NAME
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:$PROXY_HEALTHZ_PORT
metricsBindAddress: 127.0.0.1:$PROXY_METRICS_PORT
clusterCIDR: $POD_CIDR
nodePortAddresses: ["$NODE_IP/32"]
conntrack: { maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
EOF
printf -- '--config=%s\n--v=1\n' "$dir/kube-proxy-config.yaml" >"$dir/kube-proxy.args"
start_component "$dir" kube-proxy

cat >>"$dir/env" <<EOF
MQOP_NODE_NAME='$NODE_NAME'
MQOP_NODE_IP='$NODE_IP'
MQOP_POD_CIDR='$POD_CIDR'
MQOP_BRIDGE='$BRIDGE'
MQOP_CONTAINERD_SOCK='$SOCK'
MQOP_CLUSTER_DNS='$DNS_IP'
EOF
# So that `source <dir>/env` is all a shell needs for kubectl.
cat >>"$dir/env" <<'EOF'
export KUBECONFIG MQOP_K8S_BIN
case ":$PATH:" in *":$MQOP_K8S_BIN:"*) ;; *) PATH="$MQOP_K8S_BIN:$PATH" ;; esac
EOF

# ---- wait for the node ------------------------------------------------------------------------
start=$SECONDS
until [[ $(kubectl get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]; do
  for n in containerd kubelet kube-scheduler kube-proxy coredns; do
    has_exited "$dir" "$n" "$start" && { show_log_tail "$dir" "$n"; hdie "$n exited"; }
  done
  ((SECONDS - start < 120)) || { show_log_tail "$dir" kubelet; hdie "node $NODE_NAME not Ready after 120s"; }
  sleep 0.5
done
hlog "node $NODE_NAME Ready ($(elapsed)): export KUBECONFIG=$dir/kubeconfig (or: source $dir/env)"

# ---- storage ---------------------------------------------------------------------------------
"$HERE/host-pvs.sh" "$dir" "${MQOP_HOST_PVS:-64}"
hlog "default StorageClass standard with ${MQOP_HOST_PVS:-64} local PVs under $dir/pv ($(elapsed))"
