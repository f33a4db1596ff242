export REDISCLI_AUTH="$REDIS_PASSWORD"
sentinel() { timeout 5 redis-cli -h __SENTINEL_HOST__ -p __SENTINEL_PORT__ --raw sentinel "$@" 2>/dev/null; }
primary=""
if reply=$(sentinel get-master-addr-by-name __SENTINEL_MASTER__); then
  primary=$(echo "$reply" | head -n 1)
fi
if [ -n "$primary" ] && [ "$primary" = "$POD_NAME.__HEADLESS_HOST__" ]; then
  # The Sentinels still name this pod the primary, but it is starting again (deleted, evicted,
  # updated, crashed) and may have lost its data: starting as primary would make the replicas drop
  # theirs. Have the Sentinels promote a replica first and follow it; if none can be promoted
  # within a minute (no replica in sync; the liveness probe allows 75 s), start as primary.
  if sentinel failover __SENTINEL_MASTER__ >/dev/null; then
    echo "mqop: the Sentinels named this pod primary; failing over to a replica first"
    end=$(($(date +%s) + 60))
    while [ "$(date +%s)" -lt "$end" ]; do
      sleep 2
      now=$(sentinel get-master-addr-by-name __SENTINEL_MASTER__ | head -n 1) || now=""
      if [ -n "$now" ] && [ "$now" != "$POD_NAME.__HEADLESS_HOST__" ]; then primary=$now; break; fi
    done
  fi
fi
if [ -z "$primary" ]; then primary="__FIRST_POD_HOST__"; fi
if [ "$primary" != "$POD_NAME.__HEADLESS_HOST__" ]; then echo "replicaof $primary __REDIS_PORT__" >> "$conf"; fi
