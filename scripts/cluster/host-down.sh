#!/usr/bin/env bash
# Stops the host-route cluster that scripts/cluster/host-up.sh started in <dir> and removes what it
# added to the host: Pods (so that CNI tears down their veths and network namespaces), kubelet,
# kube-proxy (and its iptables chains), coredns, kube-scheduler, containerd (and its shims), the
# control plane (scripts/k8s/down.sh), mounts under <dir>, kubepods cgroups, the FORWARD rules
# host-up.sh added, and the bridge. Keeps <dir> (logs); `rm -rf <dir>` afterwards is safe.
# Only processes recorded in <dir>/pids (or containerd shims serving <dir>'s socket) are signalled.
# Usage: scripts/cluster/host-down.sh <dir>
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR/../k8s
source "$ROOT/scripts/k8s/lib.sh"
hlog() { printf '[host-down] %s\n' "$*" >&2; }

dir=${1:?usage: host-down.sh <dir>}
[[ -d $dir ]] || { hlog "no such dir: $dir"; exit 1; }
dir=$(cd "$dir" && pwd)
T0=$SECONDS
BIN=$(sed -n 's/^MQOP_K8S_BIN=//p' "$dir/env" 2>/dev/null | tr -d "'")
BRIDGE=$(cat "$dir/bridge" 2>/dev/null || true)
SOCK=$dir/containerd/containerd.sock
kubectl() { "$BIN/kubectl" --kubeconfig "$dir/kubeconfig" --request-timeout=5s "$@"; }
ctr() { command ctr -a "$SOCK" -n k8s.io "$@"; }
alive() { is_ours "$(pid_of "$dir" "$1")" "$1"; }

# 1. With the API and kubelet still up: stop what recreates Pods, delete every Pod, and let the
#    kubelet tear the sandboxes down (CNI DEL removes veths, IPs and network namespaces).
if [[ -n $BIN ]] && alive kubelet && alive kube-apiserver; then
  for n in kube-controller-manager kube-scheduler; do stop_pid "$(pid_of "$dir" "$n")" "$n" 5; done
  kubectl delete pods --all -A --grace-period=2 --wait=false >/dev/null 2>&1 || true
  for ((i = 0; i < 60; i++)); do
    [[ -z $(ctr tasks ls -q 2>/dev/null) ]] && break
    sleep 1
  done
  n=$(ctr tasks ls -q 2>/dev/null | wc -l)
  hlog "pods deleted; $n containerd task(s) left after $((SECONDS - T0))s"
fi

# Network namespaces of the sandboxes that are still known (to remove after containerd is gone).
netns=()
if [[ -S $SOCK ]]; then
  for c in $(ctr containers ls -q 2>/dev/null); do
    p=$(ctr containers info "$c" 2>/dev/null | grep -o '"path": *"/[^"]*netns/[^"]*"' | sed 's/.*"\(\/[^"]*\)"/\1/')
    [[ -n $p ]] && netns+=("$p")
  done
fi

# 2. Node components.
for n in kubelet kube-proxy coredns kube-scheduler; do stop_pid "$(pid_of "$dir" "$n")" "$n" 10; done
if [[ -n $BIN && -x $BIN/kube-proxy ]]; then
  "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || hlog "kube-proxy --cleanup reported errors (ignored)"
fi

# 3. Leftover containers, then containerd, then shims still serving our socket.
if [[ -S $SOCK ]]; then
  for t in $(ctr tasks ls -q 2>/dev/null); do ctr tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true; done
  sleep 1
  for t in $(ctr tasks ls -q 2>/dev/null); do ctr tasks delete -f "$t" >/dev/null 2>&1 || true; done
fi
stop_pid "$(pid_of "$dir" containerd)" containerd 10
for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $SOCK" || true); do
  hlog "killing leftover shim $p"; kill -KILL "$p" 2>/dev/null || true
done

# Processes still in the kubepods cgroups are our Pods' containers, left behind by a crashed
# kubelet/containerd (a shim's death does not kill its container): kill them.
for ((i = 0; i < 2; i++)); do
  pids=$(cat /sys/fs/cgroup/pids/kubepods/cgroup.procs /sys/fs/cgroup/pids/kubepods/*/cgroup.procs \
    /sys/fs/cgroup/pids/kubepods/*/*/cgroup.procs /sys/fs/cgroup/pids/kubepods/*/*/*/cgroup.procs 2>/dev/null | sort -u)
  [[ -n $pids ]] || break
  hlog "killing $(wc -w <<<"$pids") leftover container process(es)"
  for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
  sleep 1
done

# 4. Control plane.
"$ROOT/scripts/k8s/down.sh" "$dir" || true

# 5. Mounts under <dir> (containerd rootfs/shm, kubelet volumes) and leftover netns mounts.
for ((i = 0; i < 3; i++)); do
  mapfile -t mnts < <(findmnt -rn -o TARGET | awk -v d="$dir/" 'index($0, d) == 1' | sort -r)
  ((${#mnts[@]})) || break
  for m in "${mnts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
done
# host-up.sh created /run/netns, so whatever is left there is from our sandboxes
if [[ -f $dir/run-netns.created ]]; then
  for p in /run/netns/cni-*; do [[ -e $p ]] && netns+=("$p"); done
fi
for p in "${netns[@]}"; do
  [[ -e $p ]] || continue
  umount "$p" 2>/dev/null || true; rm -f "$p" && hlog "removed leftover netns $p"
done

# 6. kubepods cgroups (cgroupfs driver, cgroup v1): empty directories only, deepest first.
for sub in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
  [[ -d $sub ]] || continue
  find "$sub" -depth -type d -exec rmdir {} + 2>/dev/null || true
  [[ -d $sub ]] && hlog "WARNING: $sub could not be removed (processes left?)"
done

# 7. iptables: our FORWARD rules, then the KUBE-* chains kubelet/kube-proxy left (canaries, hints).
if [[ -n $BRIDGE ]]; then
  while iptables -D FORWARD -i "$BRIDGE" -m comment --comment "mqop-host:$BRIDGE" -j ACCEPT 2>/dev/null; do :; done
  while iptables -D FORWARD -o "$BRIDGE" -m comment --comment "mqop-host:$BRIDGE" -j ACCEPT 2>/dev/null; do :; done
fi
for ipt in iptables ip6tables; do
  for t in filter nat mangle; do
    chains=$($ipt -t $t -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^KUBE-/ { print $2 }')
    [[ -n $chains ]] || continue
    for c in $chains; do
      # rules in other chains that jump to it
      $ipt -t $t -S 2>/dev/null | awk -v c="$c" '$1 == "-A" && / -j / { for (i = 1; i <= NF; i++) if ($i == "-j" && $(i + 1) == c) print }' |
        while read -r rule; do eval "$ipt -t $t ${rule/-A /-D }" 2>/dev/null || true; done
    done
    for c in $chains; do $ipt -t $t -F "$c" 2>/dev/null || true; done
    for c in $chains; do $ipt -t $t -X "$c" 2>/dev/null || true; done
  done
done

# iptables-nft creates whole tables (ip mangle, ip6 filter, ...) on first use: drop the ones
# that did not exist before host-up.sh and are empty now.
if [[ -f $dir/nft-tables.before ]] && command -v nft >/dev/null; then
  nft list tables 2>/dev/null | while read -r _ fam name; do
    grep -qx "table $fam $name" "$dir/nft-tables.before" && continue
    case $fam in ip) ipt=iptables ;; ip6) ipt=ip6tables ;; *) continue ;; esac
    if ! $ipt -t "$name" -S 2>/dev/null | grep -qv '^-P '; then
      nft delete table "$fam" "$name" && hlog "removed empty nft table $fam $name"
    fi
  done
fi

# /run/containerd (shim sockets; containerd 1.6 can't move them) when host-up.sh created it
# Other containerds (Docker's too) put their shim sockets there as well: remove only sockets that
# no live process has bound (those of shims that were killed).
if [[ -f $dir/run-containerd.created && -d /run/containerd ]]; then
  bound=$(awk 'NR > 1 && $8 ~ /^\/run\/containerd\// { print $8 }' /proc/net/unix | sort -u)
  for f in /run/containerd/s/*; do
    [[ -S $f ]] && ! grep -qxF "$f" <<<"$bound" && rm -f "$f"
  done
  find /run/containerd -depth -type d -empty -delete 2>/dev/null || true
  [[ -d /run/containerd ]] && hlog "WARNING: /run/containerd is not empty: $(ls -A /run/containerd)"
fi

if [[ -f $dir/run-netns.created && -d /run/netns ]]; then
  rmdir /run/netns 2>/dev/null || hlog "WARNING: /run/netns is not empty: $(ls -A /run/netns)"
fi

# 8. The bridge.
if [[ -n $BRIDGE ]] && ip link show "$BRIDGE" >/dev/null 2>&1; then
  ip link delete "$BRIDGE" && hlog "deleted bridge $BRIDGE"
fi
hlog "host cluster in $dir is down ($((SECONDS - T0))s)"
