#!/bin/sh
set -eu
: "${ROCKETMQ_HOME:=__HOME__/rocketmq-__VERSION__}"
export ROCKETMQ_HOME
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
heap=$((MEMORY_LIMIT_MB * __HEAP_PERCENT__ / 100))
if [ "$heap" -lt 128 ]; then heap=128; fi
__PREPARE__exec "$JAVA" -Xms${heap}m -Xmx${heap}m __MEMORY_OPTIONS__\
  -server -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError -XX:-OmitStackTraceInFastThrow \
  -Dsun.net.inetaddr.ttl=10 -Dsun.net.inetaddr.negative.ttl=2 \
  -Duser.home=__HOME__ -Drmq.logback.configurationFile=__CONF_DIR__/logback.xml \
  -Drocketmq.home.dir="$ROCKETMQ_HOME" -cp "$ROCKETMQ_HOME/conf:$ROCKETMQ_HOME/lib/*" \
  __MAIN__
