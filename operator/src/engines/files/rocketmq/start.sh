#!/bin/sh
set -eu
: "${ROCKETMQ_HOME:=@HOME@/rocketmq-@VERSION@}"
export ROCKETMQ_HOME
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
heap=$((MEMORY_LIMIT_MB * @HEAP_PERCENT@ / 100))
if [ "$heap" -lt 128 ]; then heap=128; fi
@PREPARE@exec "$JAVA" -Xms${heap}m -Xmx${heap}m @MEMORY_OPTIONS@\
  -server -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError -XX:-OmitStackTraceInFastThrow \
  -Dsun.net.inetaddr.ttl=10 -Dsun.net.inetaddr.negative.ttl=2 \
  -Duser.home=@HOME@ -Drmq.logback.configurationFile=@CONF_DIR@/logback.xml \
  -Drocketmq.home.dir="$ROCKETMQ_HOME" -cp "$ROCKETMQ_HOME/conf:$ROCKETMQ_HOME/lib/*" \
  @MAIN@
