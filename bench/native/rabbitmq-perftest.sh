#!/usr/bin/env bash
# Native ceiling for the RabbitMQ bench: RabbitMQ PerfTest (com.rabbitmq:perf-test, Java) from
# Maven Central.
#   bench/native/rabbitmq-perftest.sh fetch          resolve the jar and its dependencies (once)
#   bench/native/rabbitmq-perftest.sh run ARGS...    java -cp ... com.rabbitmq.perf.PerfTest ARGS
# The broker URI (with credentials) is read from env MQOP_BENCH_AMQP_URI and passed as `--uri`, so
# that it stays out of the caller's command line and logs.
# Env: MQOP_PERFTEST_VERSION (2.22.1), MQOP_CACHE ($HOME/.cache/mqop; jars in
# $MQOP_CACHE/bench/perf-test/<version>/libs), MQOP_BENCH_JAVA_HEAP (-Xmx512m).
set -euo pipefail

VERSION="${MQOP_PERFTEST_VERSION:-2.22.1}"
CACHE="${MQOP_CACHE:-$HOME/.cache/mqop}"
LIBS="$CACHE/bench/perf-test/$VERSION/libs"

log() { echo "rabbitmq-perftest.sh: $*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

fetch() {
  command -v java >/dev/null || die "java is not on PATH (Java 11+ needed)"
  if [[ -f $LIBS/.complete ]]; then
    log "jars cached in $LIBS"
    return
  fi
  command -v mvn >/dev/null || die "mvn is not on PATH"
  local work="$CACHE/bench/perf-test/$VERSION/resolve"
  mkdir -p "$work"
  cat >"$work/pom.xml" <<POM
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>mqop.bench</groupId>
  <artifactId>perf-test-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>com.rabbitmq</groupId><artifactId>perf-test</artifactId><version>$VERSION</version></dependency>
  </dependencies>
</project>
POM
  log "resolving com.rabbitmq:perf-test:$VERSION from Maven Central (first time only)"
  rm -rf "$LIBS.tmp"
  (cd "$work" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS.tmp") >&2 ||
    die "mvn dependency:copy-dependencies failed"
  ls "$LIBS.tmp/perf-test-$VERSION.jar" >/dev/null || die "perf-test-$VERSION.jar missing after resolve"
  rm -rf "$LIBS"
  mv "$LIBS.tmp" "$LIBS"
  touch "$LIBS/.complete"
  log "jars in $LIBS ($(find "$LIBS" -name '*.jar' | wc -l) jars)"
}

run() {
  [[ -f $LIBS/.complete ]] || fetch
  [[ -n ${MQOP_BENCH_AMQP_URI:-} ]] || die "MQOP_BENCH_AMQP_URI is not set"
  # shellcheck disable=SC2086 # a list of JVM flags
  exec java ${MQOP_BENCH_JAVA_HEAP:--Xmx512m} -XX:+UseParallelGC -cp "$LIBS/*" com.rabbitmq.perf.PerfTest \
    --uri "$MQOP_BENCH_AMQP_URI" "$@"
}

case "${1:-}" in
fetch) fetch ;;
run)
  shift
  run "$@"
  ;;
*)
  echo "usage: $0 {fetch|run ARGS...}" >&2
  exit 2
  ;;
esac
