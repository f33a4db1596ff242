#!/bin/sh
set -eu
conf=/run/redis/redis.conf
umask 077
# A double-quoted redis.conf argument: backslashes and double quotes escaped, so any printable
# password (the credentials check refuses control characters) is read back as it is.
quoted() { printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"; }
pw=$(quoted "$REDIS_PASSWORD")
{
  echo "include /etc/redis/base/redis.conf"
  echo "requirepass $pw"
  if [ "$REDIS_USERNAME" != default ]; then
    echo "user $(quoted "$REDIS_USERNAME") on $(quoted ">$REDIS_PASSWORD") ~* &* +@all"
  fi
  echo "masterauth $pw"
  echo "replica-announce-ip "$POD_NAME.__HEADLESS_HOST__""
} > "$conf"
__REPLICATION__exec redis-server "$conf"
