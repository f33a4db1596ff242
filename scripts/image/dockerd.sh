#!/usr/bin/env bash
# Starts/stops a Docker daemon for the image build and its test on machines without systemd
# (like this project's dev and CI machines, where nothing starts dockerd for you).
#
# Usage: scripts/image/dockerd.sh start|stop|status
#   start   no-op when `docker info` already answers (any daemon, ours or not); otherwise runs
#           Debian's dockerd detached (own session, stdin </dev/null, logs to a file, so it never
#           holds a caller's pipes open) and waits until it answers. Needs root.
#   stop    stops the daemon only if this script started it (pid file + /proc/<pid>/exe check).
#   status  exit 0 when a daemon answers.
# Env: MQOP_CACHE (default $HOME/.cache/mqop): log and pid file in $MQOP_CACHE/image/dockerd.{log,pid}
#      MQOP_DOCKERD_TIMEOUT seconds to wait for the daemon (default 60)
set -euo pipefail

CACHE="${MQOP_CACHE:-$HOME/.cache/mqop}/image"
PIDFILE="$CACHE/dockerd.pid"
LOG="$CACHE/dockerd.log"
TIMEOUT="${MQOP_DOCKERD_TIMEOUT:-60}"

log() { printf '[dockerd] %s\n' "$*" >&2; }
answers() { timeout 10 docker info >/dev/null 2>&1; }

# our_pid: the pid in the pid file when that process is still a dockerd.
our_pid() {
  local pid exe
  [[ -f $PIDFILE ]] || return 1
  pid=$(<"$PIDFILE")
  [[ -n $pid && -d /proc/$pid ]] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  [[ $(basename "${exe% (deleted)}") == dockerd ]] || return 1
  echo "$pid"
}

start() {
  if answers; then return 0; fi
  command -v dockerd >/dev/null || { log "ERROR: dockerd not found (apt-get install docker.io)"; exit 1; }
  [[ $(id -u) == 0 ]] || { log "ERROR: starting dockerd needs root"; exit 1; }
  mkdir -p "$CACHE"
  if ! our_pid >/dev/null; then
    printf -- '---- dockerd starting at %s\n' "$(date -u +%FT%TZ)" >>"$LOG"
    # dockerd writes its own pid file; ours is separate so `stop` never kills a foreign daemon.
    # Started from a subshell that first closes every inherited descriptor above stderr: a daemon
    # that kept its starter's lock (flock) or pipe open would hold it for as long as it runs.
    (
      for fd in /proc/"$BASHPID"/fd/*; do
        fd=${fd##*/}
        if ((fd > 2)); then eval "exec ${fd}>&-" 2>/dev/null || true; fi
      done
      exec setsid dockerd >>"$LOG" 2>&1 </dev/null
    ) &
    echo $! >"$PIDFILE"
    log "started dockerd (pid $!), log: $LOG"
  fi
  local i
  for ((i = 0; i < TIMEOUT * 2; i++)); do
    answers && return 0
    our_pid >/dev/null || { log "ERROR: dockerd exited; last lines of $LOG:"; tail -20 "$LOG" >&2; exit 1; }
    sleep 0.5
  done
  log "ERROR: dockerd did not answer within ${TIMEOUT}s; see $LOG"
  exit 1
}

stop() {
  local pid i
  pid=$(our_pid) || { log "no dockerd started by this script is running"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do
    [[ -d /proc/$pid ]] || { rm -f "$PIDFILE"; log "stopped dockerd (pid $pid)"; return 0; }
    sleep 0.1
  done
  log "WARNING: dockerd (pid $pid) still running 30s after SIGTERM"
  return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) answers ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
