#!/usr/bin/env bash
# Native ceiling for the Kafka bench: Kafka's own perf tools from the kafka-tools jar, run from the
# jars the Kafka test bed caches (scripts/brokers/kafka.sh install; Kafka 3.9.1 by default).
#   bench/native/kafka-perf.sh fetch               make sure the jars are cached
#   bench/native/kafka-perf.sh producer ARGS...    org.apache.kafka.tools.ProducerPerformance
#   bench/native/kafka-perf.sh consumer ARGS...    org.apache.kafka.tools.ConsumerPerformance
# SASL: when MQOP_BENCH_KAFKA_USERNAME and MQOP_BENCH_KAFKA_PASSWORD are set, a client config
# (SASL_PLAINTEXT, SCRAM-SHA-512 or $MQOP_BENCH_KAFKA_MECHANISM) is written to a private temp file
# and passed as --producer.config / --consumer.config; the password never reaches a command line.
# Env: MQOP_KAFKA_VERSION (3.9.1), MQOP_CACHE ($HOME/.cache/mqop), MQOP_BENCH_JAVA_HEAP (-Xmx512m).
set -euo pipefail

VERSION="${MQOP_KAFKA_VERSION:-3.9.1}"
CACHE="${MQOP_CACHE:-$HOME/.cache/mqop}"
LIBS="$CACHE/kafka/$VERSION/libs"
HERE="$(cd "$(dirname "$0")" && pwd)"

log() { echo "kafka-perf.sh: $*" >&2; }

fetch() {
  if [[ -f $LIBS/.complete ]]; then
    log "jars cached in $LIBS"
    return
  fi
  # The test bed's install resolves kafka_2.13 and kafka-tools into the same cache.
  "$HERE/../../scripts/brokers/kafka.sh" install
}

client_config() {
  local file="$1"
  : >"$file"
  if [[ -n ${MQOP_BENCH_KAFKA_USERNAME:-} && -n ${MQOP_BENCH_KAFKA_PASSWORD:-} ]]; then
    local mech="${MQOP_BENCH_KAFKA_MECHANISM:-SCRAM-SHA-512}" module
    mech="${mech^^}"
    if [[ $mech == PLAIN ]]; then
      module=org.apache.kafka.common.security.plain.PlainLoginModule
    else
      module=org.apache.kafka.common.security.scram.ScramLoginModule
    fi
    # JAAS values are double-quoted strings: escape backslashes and quotes.
    local user="${MQOP_BENCH_KAFKA_USERNAME//\\/\\\\}" pass="${MQOP_BENCH_KAFKA_PASSWORD//\\/\\\\}"
    user="${user//\"/\\\"}"
    pass="${pass//\"/\\\"}"
    cat >"$file" <<CFG
security.protocol=SASL_PLAINTEXT
sasl.mechanism=$mech
sasl.jaas.config=$module required username="$user" password="$pass";
CFG
  fi
}

run_tool() {
  local class="$1" flag="$2"
  shift 2
  [[ -f $LIBS/.complete ]] || fetch
  TMP_DIR="$(mktemp -d)"
  local tmp="$TMP_DIR"
  chmod 700 "$tmp"
  trap 'rm -rf "$TMP_DIR"' EXIT
  client_config "$tmp/client.properties"
  cat >"$tmp/log4j.properties" <<CFG
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
CFG
  # Not exec: the trap removes the config (it holds the password) when the JVM exits.
  # shellcheck disable=SC2086 # a list of JVM flags
  java ${MQOP_BENCH_JAVA_HEAP:--Xmx512m} -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$tmp/log4j.properties" -cp "$LIBS/*" "$class" \
    "$flag" "$tmp/client.properties" "$@"
}

case "${1:-}" in
fetch) fetch ;;
producer)
  shift
  run_tool org.apache.kafka.tools.ProducerPerformance --producer.config "$@"
  ;;
consumer)
  shift
  run_tool org.apache.kafka.tools.ConsumerPerformance --consumer.config "$@"
  ;;
*)
  echo "usage: $0 {fetch|producer ARGS...|consumer ARGS...}" >&2
  exit 2
  ;;
esac
