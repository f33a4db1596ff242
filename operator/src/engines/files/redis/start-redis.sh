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
  # printf, not echo: dash's echo would turn the escaped backslashes back into escapes.
  printf 'requirepass %s\n' "$pw"
  if [ "$REDIS_USERNAME" != default ]; then
    printf 'user %s on %s ~* &* +@all\n' "$(quoted "$REDIS_USERNAME")" "$(quoted ">$REDIS_PASSWORD")"
  fi
  printf 'masterauth %s\n' "$pw"
  echo "replica-announce-ip "$POD_NAME.__HEADLESS_HOST__""
} > "$conf"
__REPLICATION__exec redis-server "$conf"
