#!/usr/bin/env bash
# Starts a throwaway, real Kubernetes control plane (etcd + kube-apiserver +
# kube-controller-manager; no kubelet, no scheduler) that listens only on 127.0.0.1 and keeps
# all of its state under <dir>:
#   <dir>/kubeconfig        admin (O=system:masters) kubeconfig, certs embedded
#   <dir>/env               shell-sourceable: KUBECONFIG, MQOP_K8S_BIN, ports, server URL
#   <dir>/pids              "<component> <pid>" lines (down.sh / restart-apiserver.sh use them)
#   <dir>/*.log             component logs; <dir>/audit.log: write requests, Metadata level
#   <dir>/pki/              CA, serving/client certs, service-account key pair
#   <dir>/etcd/             etcd data
#   <dir>/<component>.args  exact command-line flags (one a line)
#
# Usage: scripts/k8s/up.sh <dir>
# Env:   MQOP_K8S_BIN           dir with the four binaries (default: whatever build.sh prints)
#        MQOP_ETCD_PORT, MQOP_ETCD_PEER_PORT, MQOP_APISERVER_PORT, MQOP_KCM_PORT
#                               fixed ports (default: random free ports)
#        MQOP_K8S_READY_TIMEOUT seconds to wait for readiness (default 120)
#        MQOP_APISERVER_ADDRESS the one address kube-apiserver binds and advertises (default
#                               127.0.0.1). scripts/cluster/host-up.sh sets it to the node bridge's
#                               address so that Pods reach the "kubernetes" Service (a loopback
#                               address can't be an endpoint); etcd and the controller-manager
#                               stay on 127.0.0.1 either way.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dir=${1:?usage: up.sh <dir>}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
T0=$SECONDS
timeout=${MQOP_K8S_READY_TIMEOUT:-120}

if [[ -f $dir/pids ]]; then
  for n in etcd kube-apiserver kube-controller-manager; do
    is_ours "$(pid_of "$dir" "$n")" "$n" && kdie "$dir already has a running $n; run down.sh first"
  done
fi

# ---- tools -----------------------------------------------------------------------------------
if ! command -v openssl >/dev/null; then
  klog "openssl missing: installing Debian's"
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >&2
fi
BIN=${MQOP_K8S_BIN:-}
if [[ -z $BIN ]]; then
  BIN=$("$K8S_SCRIPTS/build.sh")
fi
for b in etcd kube-apiserver kube-controller-manager kubectl; do
  [[ -x $BIN/$b ]] || kdie "$BIN/$b missing (run scripts/k8s/build.sh)"
done
kubectl() { "$BIN/kubectl" --kubeconfig "$dir/kubeconfig" "$@"; }

ETCD_PORT=${MQOP_ETCD_PORT:-$(free_port)}
ETCD_PEER_PORT=${MQOP_ETCD_PEER_PORT:-$(free_port)}
API_PORT=${MQOP_APISERVER_PORT:-$(free_port)}
KCM_PORT=${MQOP_KCM_PORT:-$(free_port)}
for p in "$ETCD_PORT" "$ETCD_PEER_PORT" "$API_PORT" "$KCM_PORT"; do
  port_in_use "$p" && kdie "port $p is already in use"
done
API_ADDR=${MQOP_APISERVER_ADDRESS:-127.0.0.1}
SERVER="https://$API_ADDR:$API_PORT"
# A loopback advertise address can't be an Endpoints address, so the reconciler stays off then.
RECONCILER=none
[[ $API_ADDR == 127.* ]] || RECONCILER=lease
SERVICE_CIDR=10.96.0.0/16 # allocation range for ClusterIPs only; nothing routes there
SERVICE_IP=10.96.0.1      # the "kubernetes" Service's ClusterIP (first of the range)

# ---- PKI -------------------------------------------------------------------------------------
pki="$dir/pki"
mkdir -p "$pki"
if [[ ! -f $pki/ca.crt ]]; then
  klog "generating CA, certs and service-account keys in $pki"
  (
    cd "$pki"
    umask 077
    ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
    ec ca.key
    openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=mqop-test-ca" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" -out ca.crt 2>/dev/null
    leaf() { pki_leaf "$pki" "$@"; } # <name> <subject> <extendedKeyUsage> [subjectAltName]
    leaf apiserver "/CN=kube-apiserver" serverAuth \
      "IP:127.0.0.1,DNS:localhost,IP:$API_ADDR,IP:$SERVICE_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    leaf admin "/O=system:masters/CN=mqop-admin" clientAuth
    leaf controller-manager "/CN=system:kube-controller-manager" clientAuth
    leaf apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
    # front-proxy (request-header) CA: lets the apiserver publish a complete
    # extension-apiserver-authentication ConfigMap, so delegated authn (the controller-manager's,
    # an aggregated API's) works without error spam
    ec front-proxy-ca.key
    openssl req -x509 -new -key front-proxy-ca.key -sha256 -days 3650 -subj "/CN=mqop-front-proxy-ca" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" -out front-proxy-ca.crt 2>/dev/null
    pki_leaf "$pki" front-proxy-client "/CN=front-proxy-client" clientAuth "" front-proxy-ca
    # service-account token signing key pair (RS256)
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key 2>/dev/null
    openssl pkey -in sa.key -pubout -out sa.pub 2>/dev/null
  )
fi

write_kubeconfig "$BIN/kubectl" "$SERVER" "$pki" "$dir/kubeconfig" mqop-admin admin
write_kubeconfig "$BIN/kubectl" "$SERVER" "$pki" "$dir/controller-manager.kubeconfig" system:kube-controller-manager controller-manager

# ---- audit policy: every write request at Metadata level, nothing else ------------------------
cat >"$dir/audit-policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
    verbs: ["create", "update", "patch", "delete", "deletecollection"]
  - level: None
EOF
touch "$dir/audit.log"

# ---- env file (tests source it) --------------------------------------------------------------
cat >"$dir/env" <<EOF
KUBECONFIG='$dir/kubeconfig'
MQOP_K8S_BIN='$BIN'
MQOP_K8S_SERVER='$SERVER'
MQOP_APISERVER_PORT='$API_PORT'
MQOP_ETCD_PORT='$ETCD_PORT'
MQOP_ETCD_PEER_PORT='$ETCD_PEER_PORT'
MQOP_KCM_PORT='$KCM_PORT'
MQOP_AUDIT_LOG='$dir/audit.log'
EOF

# ---- component flags (one per line; restart-apiserver.sh reuses them) ------------------------
cat >"$dir/etcd.args" <<EOF
--name=mqop
--data-dir=$dir/etcd
--listen-client-urls=http://127.0.0.1:$ETCD_PORT
--advertise-client-urls=http://127.0.0.1:$ETCD_PORT
--listen-peer-urls=http://127.0.0.1:$ETCD_PEER_PORT
--initial-advertise-peer-urls=http://127.0.0.1:$ETCD_PEER_PORT
--initial-cluster=mqop=http://127.0.0.1:$ETCD_PEER_PORT
--initial-cluster-state=new
--unsafe-no-fsync=true
--log-level=warn
EOF

# --advertise-address=127.0.0.1 is accepted, but the "kubernetes" Service's Endpoints may not
# hold a loopback IP ("may not be in the loopback range"), so the endpoint reconciler would
# log an error every 10s: it is turned off (the Service itself is still created). Nothing runs
# in the cluster that would need to reach the apiserver through that Service.
cat >"$dir/kube-apiserver.args" <<EOF
--etcd-servers=http://127.0.0.1:$ETCD_PORT
--bind-address=$API_ADDR
--secure-port=$API_PORT
--advertise-address=$API_ADDR
--endpoint-reconciler-type=$RECONCILER
--tls-cert-file=$pki/apiserver.crt
--tls-private-key-file=$pki/apiserver.key
--client-ca-file=$pki/ca.crt
--kubelet-client-certificate=$pki/apiserver-kubelet-client.crt
--kubelet-client-key=$pki/apiserver-kubelet-client.key
--kubelet-preferred-address-types=InternalIP,Hostname
--requestheader-client-ca-file=$pki/front-proxy-ca.crt
--requestheader-allowed-names=front-proxy-client
--requestheader-username-headers=X-Remote-User
--requestheader-group-headers=X-Remote-Group
--requestheader-extra-headers-prefix=X-Remote-Extra-
--proxy-client-cert-file=$pki/front-proxy-client.crt
--proxy-client-key-file=$pki/front-proxy-client.key
--service-cluster-ip-range=$SERVICE_CIDR
--authorization-mode=Node,RBAC
--enable-admission-plugins=NodeRestriction,PodSecurity
--allow-privileged=true
--service-account-issuer=https://kubernetes.default.svc.cluster.local
--service-account-key-file=$pki/sa.pub
--service-account-signing-key-file=$pki/sa.key
--audit-policy-file=$dir/audit-policy.yaml
--audit-log-path=$dir/audit.log
--audit-log-format=json
--audit-log-maxbackup=0
--audit-log-maxsize=0
--cert-dir=$dir/apiserver-certs
--profiling=false
--v=1
EOF

cat >"$dir/kube-controller-manager.args" <<EOF
--kubeconfig=$dir/controller-manager.kubeconfig
--authentication-kubeconfig=$dir/controller-manager.kubeconfig
--authorization-kubeconfig=$dir/controller-manager.kubeconfig
--bind-address=127.0.0.1
--secure-port=$KCM_PORT
--cert-dir=$dir/kcm-certs
--flex-volume-plugin-dir=$dir/kcm-flexvolume
--service-account-private-key-file=$pki/sa.key
--root-ca-file=$pki/ca.crt
--cluster-signing-cert-file=$pki/ca.crt
--cluster-signing-key-file=$pki/ca.key
--cluster-name=mqop
--controllers=*
--use-service-account-credentials=true
--leader-elect=false
--profiling=false
--v=1
EOF

# ---- start -----------------------------------------------------------------------------------
: >"$dir/pids"
fail() { klog "ERROR: $*"; "$K8S_SCRIPTS/down.sh" "$dir" || true; exit 1; }

start_component "$dir" etcd
start=$SECONDS
until curl -fsS "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"'; do
  has_exited "$dir" etcd "$start" && { show_log_tail "$dir" etcd; fail "etcd exited"; }
  ((SECONDS - start < timeout)) || { show_log_tail "$dir" etcd; fail "etcd not healthy after ${timeout}s"; }
  sleep 0.2
done
klog "etcd healthy on 127.0.0.1:$ETCD_PORT ($((SECONDS - T0))s)"

start_component "$dir" kube-apiserver
(wait_ready "$dir" "$timeout") || fail "kube-apiserver did not become ready"
klog "kube-apiserver ready at $SERVER ($((SECONDS - T0))s)"

start_component "$dir" kube-controller-manager
start=$SECONDS
until kubectl -n default get serviceaccount default >/dev/null 2>&1; do
  has_exited "$dir" kube-controller-manager "$start" &&
    { show_log_tail "$dir" kube-controller-manager; fail "kube-controller-manager exited"; }
  ((SECONDS - start < timeout)) ||
    { show_log_tail "$dir" kube-controller-manager; fail "no default ServiceAccount after ${timeout}s"; }
  sleep 0.3
done
klog "controller-manager up: default ServiceAccount exists ($((SECONDS - T0))s)"
klog "control plane ready in $((SECONDS - T0))s: export KUBECONFIG=$dir/kubeconfig (or: source $dir/env)"
