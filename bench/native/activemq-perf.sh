#!/usr/bin/env bash
# Native ceiling for the ActiveMQ bench: ActiveMQ's own demo producer and consumer
# (`bin/activemq producer` / `bin/activemq consumer`, org.apache.activemq.console.Main from
# activemq-console), run from the jars the ActiveMQ test bed caches (scripts/brokers/activemq.sh
# install; ActiveMQ 6.1.7 by default). They speak OpenWire, the broker's own protocol.
#   bench/native/activemq-perf.sh fetch               make sure the jars are cached
#   bench/native/activemq-perf.sh producer ARGS...    activemq producer ARGS
#   bench/native/activemq-perf.sh consumer ARGS...    activemq consumer ARGS
# The broker URL comes from env MQOP_BENCH_ACTIVEMQ_URL (tcp://host:port), the credentials from
# MQOP_BENCH_ACTIVEMQ_USERNAME / MQOP_BENCH_ACTIVEMQ_PASSWORD: they go into a private Java
# argument file (java @file), so the password never reaches a command line.
# Output: the tools' log lines as `<unix millis> <message>` on stdout (per-message "Received"
# lines of the consumer are filtered out).
# Env: MQOP_ACTIVEMQ_VERSION (6.1.7), MQOP_CACHE ($HOME/.cache/mqop), MQOP_BENCH_JAVA_HEAP (-Xmx512m).
set -euo pipefail

VERSION="${MQOP_ACTIVEMQ_VERSION:-6.1.7}"
CACHE="${MQOP_CACHE:-$HOME/.cache/mqop}"
LIB="$CACHE/activemq/$VERSION/lib"
HERE="$(cd "$(dirname "$0")" && pwd)"

log() { echo "activemq-perf.sh: $*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

fetch() {
  if [[ -f $LIB/.complete ]]; then
    log "jars cached in $LIB"
    return
  fi
  "$HERE/../../scripts/brokers/activemq.sh" install
}

# A value as one quoted argument of a Java argument file (backslashes and quotes escaped).
argfile_quote() {
  local v="${1//\\/\\\\}"
  v="${v//\"/\\\"}"
  printf '"%s"' "$v"
}

run_tool() {
  local command="$1"
  shift
  [[ -f $LIB/.complete ]] || fetch
  [[ -n ${MQOP_BENCH_ACTIVEMQ_URL:-} ]] || die "MQOP_BENCH_ACTIVEMQ_URL is not set"
  TMP_DIR="$(mktemp -d)"
  chmod 700 "$TMP_DIR"
  trap 'rm -rf "$TMP_DIR"' EXIT
  cat >"$TMP_DIR/log4j2.properties" <<'CFG'
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = Out
logger.tool.name = org.apache.activemq.util
logger.tool.level = INFO
logger.cmd.name = org.apache.activemq.console.command
logger.cmd.level = INFO
appender.out.type = Console
appender.out.name = Out
appender.out.target = SYSTEM_OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = %d{UNIX_MILLIS} %m%n
appender.out.filter.received.type = RegexFilter
appender.out.filter.received.regex = .* Received .*
appender.out.filter.received.onMatch = DENY
appender.out.filter.received.onMismatch = NEUTRAL
CFG
  # One argument per line: the launcher reads main class and arguments from the file.
  {
    printf '%s\n' org.apache.activemq.console.Main "$command" --brokerUrl "$MQOP_BENCH_ACTIVEMQ_URL"
    if [[ -n ${MQOP_BENCH_ACTIVEMQ_USERNAME:-} ]]; then
      printf '%s\n' --user "$(argfile_quote "$MQOP_BENCH_ACTIVEMQ_USERNAME")" \
        --password "$(argfile_quote "${MQOP_BENCH_ACTIVEMQ_PASSWORD:-}")"
    fi
    local a
    for a in "$@"; do printf '%s\n' "$a"; done
  } >"$TMP_DIR/args"
  # Not exec: the trap removes the argument file (it holds the password) when the JVM exits.
  # shellcheck disable=SC2086 # a list of JVM flags
  java ${MQOP_BENCH_JAVA_HEAP:--Xmx512m} -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$TMP_DIR/log4j2.properties" -Dactivemq.home="$TMP_DIR" \
    -Dactivemq.base="$TMP_DIR" -cp "$LIB/*" "@$TMP_DIR/args"
}

case "${1:-}" in
fetch) fetch ;;
producer | consumer)
  cmd="$1"
  shift
  run_tool "$cmd" "$@"
  ;;
*)
  echo "usage: $0 {fetch|producer ARGS...|consumer ARGS...}" >&2
  exit 2
  ;;
esac
