#!/bin/sh
set -eu
conf=/run/sentinel/sentinel.conf
umask 077
export REDISCLI_AUTH="$REDIS_PASSWORD"
# A double-quoted sentinel.conf argument (see start-redis.sh).
pw=$(printf '"%s"' "$(printf '%s' "$REDIS_PASSWORD" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')")
primary=""
if reply=$(timeout 5 redis-cli -h __SENTINEL_HOST__ -p __SENTINEL_PORT__ --raw sentinel get-master-addr-by-name __SENTINEL_MASTER__ 2>/dev/null); then
  primary=$(echo "$reply" | head -n 1)
fi
if [ -z "$primary" ]; then primary="__FIRST_POD_HOST__"; fi
cat > "$conf" <<CONF
port __SENTINEL_PORT__
dir /run/sentinel
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $POD_NAME.__SENTINEL_HEADLESS_HOST__
requirepass $pw
sentinel sentinel-pass $pw
sentinel monitor __SENTINEL_MASTER__ $primary __REDIS_PORT__ __QUORUM__
sentinel auth-pass __SENTINEL_MASTER__ $pw
sentinel down-after-milliseconds __SENTINEL_MASTER__ 5000
sentinel failover-timeout __SENTINEL_MASTER__ 60000
sentinel parallel-syncs __SENTINEL_MASTER__ 1
CONF
exec redis-server "$conf" --sentinel
