# Shared by the broker test beds in scripts/brokers/ (`source`d, never run): logging, pid files,
# stopping, ports, installing (Debian packages or Maven Central jars) and the command dispatch.
# A script sets LOG_PREFIX (e.g. 'redis.sh: ') before it logs.
# shellcheck shell=bash
# shellcheck disable=SC2034 # PASSWORD, CACHE and REPO are used by the scripts that source this file

# The password of user `mqop` in every test bed.
PASSWORD="${MQOP_TEST_PASSWORD:-mqop-test-pw}"
# Jars and broker state live below this folder.
CACHE="${MQOP_CACHE:-$HOME/.cache/mqop}"
# The repository (for node_modules and the renderer).
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

log() { printf '%s%s\n' "${LOG_PREFIX:-}" "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

# pid_of FILE PATTERN: the pid in FILE if that process is alive and its command line matches
# PATTERN (grep), so a recycled pid is not taken for ours.
pid_of() {
  local file=$1 pattern=$2 pid
  [[ -s $file ]] || return 1
  pid=$(cat "$file")
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern" || return 1
  echo "$pid"
}

# await_exit PID SECONDS: waits up to SECONDS for PID to end; fails if it is still there.
await_exit() {
  local pid=$1 _
  for _ in $(seq 1 $(($2 * 10))); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  ! kill -0 "$pid" 2>/dev/null
}

# stop_pid PID SECONDS [WHAT]: SIGTERM, then SIGKILL if PID has not ended after SECONDS.
stop_pid() {
  local pid=$1 seconds=$2 what=${3:-}
  kill -TERM "$pid" 2>/dev/null || return 0
  await_exit "$pid" "$seconds" && return 0
  log "${what:+$what: }no clean exit after ${seconds}s, killing"
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.5
}

# port_open PORT: something accepts connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# apt_install PACKAGE...: from Debian, quietly, without recommends.
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# maven_jars NAME LIB WHAT JAR... <POM_BODY: resolves the runtime jars of the dependencies in
# POM_BODY (stdin: <properties>/<dependencies> of a throwaway pom) from Maven Central into LIB,
# once; later calls find LIB/.complete and return at once. Fails unless every JAR is among them.
maven_jars() {
  local name=$1 lib=$2 what=$3 jar
  shift 3
  command -v java >/dev/null || die "java is not on PATH (Java 17 needed)"
  if [[ -f $lib/.complete ]]; then
    log "jars cached in $lib"
    return
  fi
  command -v mvn >/dev/null || die "mvn is not on PATH"
  local work="${lib%/*}/resolve"
  mkdir -p "$work"
  {
    cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>mqop.testbed</groupId>
  <artifactId>$name-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
EOF
    cat
    echo '</project>'
  } >"$work/pom.xml"
  log "resolving $what from Maven Central (first time only)"
  rm -rf "$lib.tmp"
  (cd "$work" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$lib.tmp") >&2 ||
    die "mvn dependency:copy-dependencies failed"
  for jar; do
    [[ -f $lib.tmp/$jar ]] || die "$jar missing after resolve"
  done
  rm -rf "$lib"
  mv "$lib.tmp" "$lib"
  touch "$lib/.complete"
  log "jars in $lib ($(find "$lib" -name '*.jar' | wc -l) jars)"
}

# dispatch USAGE ARG...: runs the command ARG names (a function) with the other ARGs, if USAGE
# (`{install|start|...|mqadmin <args...>}`) lists it; else prints the usage and exits 2.
dispatch() {
  local usage=$1 cmd=${2:-} known
  shift
  known="|${usage:1:-1}|"
  if [[ $cmd =~ ^[a-z]+$ ]]; then
    case $known in
    *"|$cmd|"* | *"|$cmd "*)
      shift
      "$cmd" "$@"
      return
      ;;
    esac
  fi
  echo "usage: $0 $usage" >&2
  exit 2
}
