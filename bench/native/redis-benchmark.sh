#!/usr/bin/env bash
# Native ceiling for the Redis bench: redis-benchmark from Debian's redis-tools.
#   bench/native/redis-benchmark.sh fetch            install redis-tools if redis-benchmark is missing
#   bench/native/redis-benchmark.sh run ARGS...      redis-benchmark ARGS (auth from the env)
# Auth: redis-benchmark takes the password only as `-a`; it is read from env
# MQOP_BENCH_REDIS_PASSWORD (and the user from MQOP_BENCH_REDIS_USERNAME) here, so that it stays
# out of the caller's command line and logs (it is still visible in this process's argv).
set -euo pipefail

log() { echo "redis-benchmark.sh: $*" >&2; }

fetch() {
  if command -v redis-benchmark >/dev/null; then
    log "$(redis-benchmark --version)"
    return
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends redis-tools >/dev/null
  log "installed $(redis-benchmark --version)"
}

run() {
  command -v redis-benchmark >/dev/null || fetch
  local auth=()
  if [[ -n ${MQOP_BENCH_REDIS_PASSWORD:-} ]]; then
    [[ -n ${MQOP_BENCH_REDIS_USERNAME:-} ]] && auth+=(--user "$MQOP_BENCH_REDIS_USERNAME")
    auth+=(-a "$MQOP_BENCH_REDIS_PASSWORD")
  fi
  exec redis-benchmark "${auth[@]}" "$@"
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
