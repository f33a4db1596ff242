# Shared helpers for scripts/k8s/{up,down,restart-apiserver}.sh. Source it; don't run it.
# shellcheck shell=bash

# shellcheck disable=SC2034 # used by the scripts that source this file
K8S_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

klog() { printf '[k8s] %s\n' "$*" >&2; }
kdie() { klog "ERROR: $*"; exit 1; }

# port_in_use <port>: true when something listens on 127.0.0.1/0.0.0.0/:: at that TCP port.
port_in_use() {
  local hex
  hex=$(printf '%04X' "$1")
  # column 2 is local_address:port, column 4 the state (0A = LISTEN)
  awk -v h=":$hex" 'NR > 1 && substr($2, length($2) - 4) == h && $4 == "0A" { found = 1 } END { exit !found }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# free_port: a TCP port that nobody listens on, below the kernel's ephemeral range so that
# outgoing connections can't grab it between now and the bind.
free_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((10000 + RANDOM % 22000))
    if ! port_in_use "$p" && [[ " ${_K8S_TAKEN_PORTS:-} " != *" $p "* ]]; then
      _K8S_TAKEN_PORTS="${_K8S_TAKEN_PORTS:-} $p"
      echo "$p"
      return 0
    fi
  done
  kdie "no free port found"
}

# pid_of <dir> <name>: the pid recorded in <dir>/pids for that component (empty if none).
pid_of() {
  [[ -f $1/pids ]] || return 0
  awk -v n="$2" '$1 == n { p = $2 } END { if (p) print p }' "$1/pids"
}

# set_pid <dir> <name> <pid>: records (or replaces) a component's pid in <dir>/pids.
set_pid() {
  local tmp="$1/pids.tmp.$$"
  { [[ -f $1/pids ]] && awk -v n="$2" '$1 != n' "$1/pids"; echo "$2 $3"; } >"$tmp"
  mv -f "$tmp" "$1/pids"
}

# is_ours <pid> <name>: the pid is alive and still runs the binary we started (not a reused pid).
is_ours() {
  local exe
  [[ -n $1 && -d /proc/$1 ]] || return 1
  exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
  [[ $(basename "${exe% (deleted)}") == "$2" ]]
}

# pki_leaf <pki-dir> <name> <subject> <extendedKeyUsage> [subjectAltName] [ca-name (default ca)]
# Writes <name>.key (EC P-256) and <name>.crt, valid 1 year, signed by <ca-name>.crt/.key in <pki-dir>.
pki_leaf() {
  (
    cd "$1" || exit 1
    umask 077
    local ca=${6:-ca}
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$2.key" 2>/dev/null
    openssl req -new -key "$2.key" -subj "$3" -out "$2.csr" 2>/dev/null
    {
      echo "basicConstraints=critical,CA:FALSE"
      echo "keyUsage=critical,digitalSignature,keyEncipherment"
      echo "extendedKeyUsage=$4"
      [[ -z ${5:-} ]] || echo "subjectAltName=$5"
    } >"$2.ext"
    openssl x509 -req -in "$2.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial -sha256 -days 365 \
      -extfile "$2.ext" -out "$2.crt" 2>/dev/null
    rm -f "$2.csr" "$2.ext"
  )
}

# has_exited <dir> <name> <started-at-SECONDS>: the component started by start_component is gone.
# Right after the start its pid may still be the forked shell about to exec the binary (seen on a
# loaded machine), so a live pid that is not yet the binary counts as starting for 10 s.
has_exited() {
  local pid
  pid=$(pid_of "$1" "$2")
  is_ours "$pid" "$2" && return 1
  [[ -n $pid && -d /proc/$pid ]] && ((SECONDS - $3 < 10)) && return 1
  return 0
}

# stop_pid <pid> <name> [grace-seconds]: SIGTERM, wait, then SIGKILL.
stop_pid() {
  local pid=$1 name=$2 grace=${3:-10} i
  is_ours "$pid" "$name" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < grace * 10; i++)); do
    is_ours "$pid" "$name" || { klog "stopped $name (pid $pid)"; return 0; }
    sleep 0.1
  done
  klog "$name (pid $pid) still running ${grace}s after SIGTERM: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do is_ours "$pid" "$name" || return 0; sleep 0.1; done
  klog "WARNING: $name (pid $pid) still alive after SIGKILL"
}

# start_component <dir> <name> [binary]: runs <bin>/<name> (<bin> from <dir>/env; or the given
# binary, for one outside it) with the args in <dir>/<name>.args (one a line), detached in its
# own session, appending to <dir>/<name>.log; records its pid.
start_component() {
  local dir=$1 name=$2 binary=${3:-} args pid
  [[ -n $binary ]] || binary="$(sed -n 's/^MQOP_K8S_BIN=//p' "$dir/env" | tr -d "'")/$name"
  mapfile -t args <"$dir/$name.args"
  printf -- '---- %s starting at %s\n' "$name" "$(date -u +%FT%TZ)" >>"$dir/$name.log"
  setsid "$binary" "${args[@]}" >>"$dir/$name.log" 2>&1 </dev/null &
  pid=$!
  set_pid "$dir" "$name" "$pid"
  klog "started $name (pid $pid), log: $dir/$name.log"
}

# write_kubeconfig <kubectl> <server> <pki-dir> <file> <user> <cert-name>: a kubeconfig for
# <user> with the client certificate <pki-dir>/<cert-name>.crt/.key, all embedded, mode 0600.
write_kubeconfig() {
  local k=$1 server=$2 pki=$3 file=$4 user=$5 cert=$6
  rm -f "$file"
  "$k" --kubeconfig "$file" config set-cluster mqop --server "$server" \
    --certificate-authority "$pki/ca.crt" --embed-certs >/dev/null
  "$k" --kubeconfig "$file" config set-credentials "$user" --embed-certs \
    --client-certificate "$pki/$cert.crt" --client-key "$pki/$cert.key" >/dev/null
  "$k" --kubeconfig "$file" config set-context mqop --cluster mqop --user "$user" >/dev/null
  "$k" --kubeconfig "$file" config use-context mqop >/dev/null
  chmod 600 "$file"
}

# show_log_tail <dir> <name>
show_log_tail() {
  klog "last lines of $1/$2.log:"
  tail -n 25 "$1/$2.log" >&2 || true
}

# wait_ready <dir> <timeout-seconds>: waits until the apiserver's /readyz says ok.
wait_ready() {
  local dir=$1 timeout=$2 bin start out
  bin=$(sed -n 's/^MQOP_K8S_BIN=//p' "$dir/env" | tr -d "'")
  start=$SECONDS
  while ((SECONDS - start < timeout)); do
    has_exited "$dir" kube-apiserver "$start" && { show_log_tail "$dir" kube-apiserver; kdie "kube-apiserver exited"; }
    if out=$("$bin/kubectl" --kubeconfig "$dir/kubeconfig" --request-timeout=2s get --raw /readyz 2>/dev/null) &&
      [[ $out == ok ]]; then
      return 0
    fi
    sleep 0.3
  done
  show_log_tail "$dir" kube-apiserver
  "$bin/kubectl" --kubeconfig "$dir/kubeconfig" --request-timeout=2s get --raw '/readyz?verbose' >&2 || true
  kdie "kube-apiserver not ready after ${timeout}s"
}
