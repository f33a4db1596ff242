#!/bin/sh
set -eu
conf=/run/sentinel/sentinel.conf
umask 077
export REDISCLI_AUTH="$REDIS_PASSWORD"
primary=""
if reply=$(timeout 5 redis-cli -h @SENTINEL_HOST@ -p @SENTINEL_PORT@ --raw sentinel get-master-addr-by-name @SENTINEL_MASTER@ 2>/dev/null); then
  primary=$(echo "$reply" | head -n 1)
fi
if [ -z "$primary" ]; then primary="@FIRST_POD_HOST@"; fi
cat > "$conf" <<CONF
port @SENTINEL_PORT@
dir /run/sentinel
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $POD_NAME.@SENTINEL_HEADLESS_HOST@
requirepass "$REDIS_PASSWORD"
sentinel sentinel-pass "$REDIS_PASSWORD"
sentinel monitor @SENTINEL_MASTER@ $primary @REDIS_PORT@ @QUORUM@
sentinel auth-pass @SENTINEL_MASTER@ "$REDIS_PASSWORD"
sentinel down-after-milliseconds @SENTINEL_MASTER@ 5000
sentinel failover-timeout @SENTINEL_MASTER@ 60000
sentinel parallel-syncs @SENTINEL_MASTER@ 1
CONF
exec redis-server "$conf" --sentinel
