#!/bin/sh
set -eu
conf=/run/redis/redis.conf
umask 077
{
  echo "include /etc/redis/base/redis.conf"
  echo "requirepass \"$REDIS_PASSWORD\""
  if [ "$REDIS_USERNAME" != default ]; then
    echo "user \"$REDIS_USERNAME\" on \">$REDIS_PASSWORD\" ~* &* +@all"
  fi
  echo "masterauth \"$REDIS_PASSWORD\""
  echo "replica-announce-ip "$POD_NAME.__HEADLESS_HOST__""
} > "$conf"
__REPLICATION__exec redis-server "$conf"
