#!/usr/bin/env bash
# RocketMQ test bed for the smoke tests: Apache RocketMQ 5.3 on 127.0.0.1, one name server and one
# broker running the 5.x proxy in LOCAL mode in the same JVM (what mqop's renderer runs in a pod:
# `ProxyStartup -pm local -pc rmq-proxy.json -bc broker.conf`), ACL 2.0 authentication and
# authorization on, super user `mqop`.
#
# Usage: scripts/brokers/rocketmq.sh {install|start|stop|status|mqadmin <args...>}
# Env:   MQOP_ROCKETMQ_VERSION        (default 5.3.3)  org.apache.rocketmq:* version
#        MQOP_ROCKETMQ_NAMESRV_PORT   (default 19876)  name server
#        MQOP_ROCKETMQ_GRPC_PORT      (default 18081)  proxy gRPC (what clients and the smoke test use)
#        MQOP_ROCKETMQ_REMOTING_PORT  (default 18080)  proxy remoting
#        MQOP_ROCKETMQ_BROKER_PORT    (default 20911)  broker (the broker also uses port-2 for its
#                                                      "VIP" channel and port+1 for HA)
#        MQOP_ROCKETMQ_CLUSTER        (default mqop-testbed) brokerClusterName
#        MQOP_TEST_PASSWORD           (default mqop-test-pw) password (secret key) of user `mqop`
#        MQOP_ROCKETMQ_HEAP           (default -Xms256m -Xmx512m) broker+proxy heap
#        MQOP_CACHE                   (default $HOME/.cache/mqop)
#        MQOP_ROCKETMQ_DIR            (default $MQOP_CACHE/brokers/rocketmq) config, store and logs
#
# install: resolves the jars from Maven Central once (a throwaway pom, then
#          `mvn dependency:copy-dependencies`) into $MQOP_CACHE/rocketmq/<version>/lib.
# start:   writes the config (the renderer's broker.conf / rmq-proxy.json settings, see
#          operator/src/engines/rocketmq.ts, with test-bed ports and paths), starts the name server
#          and the broker+proxy JVMs, waits until the broker is registered and the gRPC port is
#          open, prints the URL. The user store is seeded by `initAuthenticationUser` on an empty
#          store only, so a changed password wipes the store first.
# stop:    SIGTERM (the proxy drains, the broker flushes), SIGKILL after 60 s.
# mqadmin: runs org.apache.rocketmq.tools.command.MQAdminStartup with `mqop`'s credentials
#          (e.g. `mqadmin topicList -n 127.0.0.1:19876`).
# Listeners: the name server and the broker (and its VIP channel) bind 127.0.0.1 (`bindAddress`);
# the proxy's gRPC and remoting servers and the broker's HA port have no bind setting in 5.3 and
# listen on every interface.
set -euo pipefail
LOG_PREFIX='[rocketmq] '
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VERSION="${MQOP_ROCKETMQ_VERSION:-5.3.3}"
NAMESRV_PORT="${MQOP_ROCKETMQ_NAMESRV_PORT:-19876}"
GRPC_PORT="${MQOP_ROCKETMQ_GRPC_PORT:-18081}"
REMOTING_PORT="${MQOP_ROCKETMQ_REMOTING_PORT:-18080}"
BROKER_PORT="${MQOP_ROCKETMQ_BROKER_PORT:-20911}"
CLUSTER="${MQOP_ROCKETMQ_CLUSTER:-mqop-testbed}"
HEAP="${MQOP_ROCKETMQ_HEAP:--Xms256m -Xmx512m}"
LIBS="$CACHE/rocketmq/$VERSION/lib"
DIR="${MQOP_ROCKETMQ_DIR:-$CACHE/brokers/rocketmq}"
NAMESRV_ADDR="127.0.0.1:$NAMESRV_PORT"

url() { echo "rocketmq://127.0.0.1:$GRPC_PORT"; }

# pid of one of our JVMs (namesrv|broker) if it runs; checks the command line against pid reuse.
running_pid() { pid_of "$DIR/$1.pid" "$2"; }
namesrv_pid() { running_pid namesrv org.apache.rocketmq.namesrv.NamesrvStartup; }
broker_pid() { running_pid broker org.apache.rocketmq.proxy.ProxyStartup; }

install() {
  maven_jars rocketmq "$LIBS" "org.apache.rocketmq:*:$VERSION" "rocketmq-proxy-$VERSION.jar" <<EOF
  <dependencies>
    <dependency><groupId>org.apache.rocketmq</groupId><artifactId>rocketmq-namesrv</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.rocketmq</groupId><artifactId>rocketmq-broker</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.rocketmq</groupId><artifactId>rocketmq-proxy</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.rocketmq</groupId><artifactId>rocketmq-tools</artifactId><version>$VERSION</version></dependency>
  </dependencies>
EOF
}

# JSON string of a value (for initAuthenticationUser and friends).
json_str() {
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

write_config() {
  mkdir -p "$DIR/conf" "$DIR/home/conf" "$DIR/logs" "$DIR/store" "$DIR/namesrv"
  chmod 700 "$DIR"
  local old_umask fingerprint inner
  old_umask=$(umask)
  umask 077
  # The user store is seeded once: a different password means a fresh store.
  fingerprint=$(printf '%s' "$PASSWORD" | sha256sum | cut -d' ' -f1)
  if [[ -d $DIR/store/config && "$(cat "$DIR/password.sha256" 2>/dev/null)" != "$fingerprint" ]]; then
    log "password changed since the store was created: wiping $DIR/store"
    rm -rf "$DIR/store"
    mkdir -p "$DIR/store"
  fi
  echo "$fingerprint" >"$DIR/password.sha256"
  [[ -s $DIR/inner-secret-key ]] || head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/inner-secret-key"
  inner=$(cat "$DIR/inner-secret-key")
  # Console-only logging like the renderer's logback.xml; stdout goes to $DIR/logs/*.log.
  cat >"$DIR/conf/logback.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder>
      <pattern>%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX} %p [%t] %c{0} - %m%n</pattern>
    </encoder>
  </appender>
  <root level="INFO">
    <appender-ref ref="STDOUT"/>
  </root>
</configuration>
EOF
  # mqadmin prints its results on stdout: its own logging stays off.
  cat >"$DIR/conf/logback-tools.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <root level="OFF"/>
</configuration>
EOF
  cat >"$DIR/conf/namesrv.conf" <<EOF
listenPort=$NAMESRV_PORT
bindAddress=127.0.0.1
kvConfigPath=$DIR/namesrv/kvConfig.json
configStorePath=$DIR/namesrv/namesrv.properties
EOF
  # The renderer's broker.conf (brokerConf() + brokerCredentialsConf() + the start script's
  # brokerName/brokerIP1), test-bed ports and paths; autoCreateTopicEnable as in the example.
  cat >"$DIR/conf/broker.conf" <<EOF
brokerClusterName=$CLUSTER
brokerId=0
brokerRole=ASYNC_MASTER
flushDiskType=ASYNC_FLUSH
listenPort=$BROKER_PORT
namesrvAddr=$NAMESRV_ADDR
storePathRootDir=$DIR/store
storePathCommitLog=$DIR/store/commitlog
authenticationEnabled=true
authenticationProvider=org.apache.rocketmq.auth.authentication.provider.DefaultAuthenticationProvider
authenticationMetadataProvider=org.apache.rocketmq.auth.authentication.provider.LocalAuthenticationMetadataProvider
authorizationEnabled=true
authorizationProvider=org.apache.rocketmq.auth.authorization.provider.DefaultAuthorizationProvider
authorizationMetadataProvider=org.apache.rocketmq.auth.authorization.provider.LocalAuthorizationMetadataProvider
diskMaxUsedSpaceRatio=75
autoCreateTopicEnable=true
initAuthenticationUser={"username":"mqop","password":$(json_str "$PASSWORD")}
innerClientAuthenticationCredentials={"accessKey":"mqop-inner","secretKey":"$inner"}
brokerName=$CLUSTER-0
brokerIP1=127.0.0.1
bindAddress=127.0.0.1
EOF
  # The renderer's rmq-proxy.json, test-bed ports.
  cat >"$DIR/conf/rmq-proxy.json" <<EOF
{
  "rocketMQClusterName": "$CLUSTER",
  "proxyMode": "local",
  "namesrvAddr": "$NAMESRV_ADDR",
  "grpcServerPort": $GRPC_PORT,
  "remotingListenPort": $REMOTING_PORT,
  "authenticationEnabled": true,
  "authenticationProvider": "org.apache.rocketmq.auth.authentication.provider.DefaultAuthenticationProvider",
  "authenticationMetadataProvider": "org.apache.rocketmq.proxy.auth.ProxyAuthenticationMetadataProvider",
  "authorizationEnabled": true,
  "authorizationProvider": "org.apache.rocketmq.auth.authorization.provider.DefaultAuthorizationProvider",
  "authorizationMetadataProvider": "org.apache.rocketmq.proxy.auth.ProxyAuthorizationMetadataProvider"
}
EOF
  # mqadmin reads its credentials from <rocketmq.home.dir>/conf/tools.yml.
  cat >"$DIR/home/conf/tools.yml" <<EOF
accessKey: mqop
secretKey: $(json_str "$PASSWORD")
EOF
  umask "$old_umask"
}

# The renderer's JVM flags (JVM_COMMON), test-bed paths.
jvm_common() {
  printf '%s\n' -server -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError -XX:-OmitStackTraceInFastThrow \
    -Dsun.net.inetaddr.ttl=10 -Dsun.net.inetaddr.negative.ttl=2 \
    "-Duser.home=$DIR/home" "-Drmq.logback.configurationFile=$DIR/conf/logback.xml" \
    "-Drocketmq.home.dir=$DIR/home" "-Djava.io.tmpdir=$DIR/tmp" -cp "$DIR/home/conf:$LIBS/*"
}

# The broker is ready when it is registered with the name server under our cluster and the proxy's
# gRPC port accepts connections (the proxy opens it last).
broker_registered() {
  port_open "$GRPC_PORT" || return 1
  grep -q "Registering current broker to name server completed. TargetHost=$NAMESRV_ADDR" "$DIR/logs/broker.log" 2>/dev/null
}

# Waits until `check` passes while the process of `pidfile` lives (by pid only: right after the
# fork its command line is still bash's, not java's).
wait_for() {
  local what=$1 pidfile=$2 check=$3 logf=$4 deadline=$((SECONDS + ${MQOP_ROCKETMQ_START_TIMEOUT:-240}))
  local pid
  pid=$(cat "$pidfile")
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || {
      tail -n 40 "$logf" >&2 2>/dev/null || true
      die "$what exited during startup (see $logf)"
    }
    if $check; then return 0; fi
    sleep 0.5
  done
  die "$what not ready in time (see $logf)"
}

start() {
  install
  local npid bpid
  if npid=$(namesrv_pid) && bpid=$(broker_pid) && broker_registered; then
    log "already running (namesrv pid $npid, broker pid $bpid)"
    url
    return
  fi
  write_config
  mkdir -p "$DIR/tmp"
  local common
  mapfile -t common < <(jvm_common)
  if ! namesrv_pid >/dev/null; then
    port_open "$NAMESRV_PORT" && die "port $NAMESRV_PORT is already in use by another process"
    log "starting name server on $NAMESRV_ADDR"
    nohup java -Xms128m -Xmx256m "${common[@]}" \
      org.apache.rocketmq.namesrv.NamesrvStartup -c "$DIR/conf/namesrv.conf" \
      >"$DIR/logs/namesrv.log" 2>&1 </dev/null &
    echo $! >"$DIR/namesrv.pid"
  fi
  wait_for "name server" "$DIR/namesrv.pid" "port_open $NAMESRV_PORT" "$DIR/logs/namesrv.log"
  if ! broker_pid >/dev/null; then
    local p
    for p in "$GRPC_PORT" "$REMOTING_PORT" "$BROKER_PORT"; do
      port_open "$p" && die "port $p is already in use by another process"
    done
    log "starting broker + local proxy (gRPC 127.0.0.1:$GRPC_PORT, broker $BROKER_PORT)"
    # shellcheck disable=SC2086 # HEAP is a list of JVM flags
    nohup java $HEAP -XX:MaxDirectMemorySize=512m "${common[@]}" \
      org.apache.rocketmq.proxy.ProxyStartup -pm local -pc "$DIR/conf/rmq-proxy.json" -bc "$DIR/conf/broker.conf" \
      >"$DIR/logs/broker.log" 2>&1 </dev/null &
    echo $! >"$DIR/broker.pid"
  fi
  wait_for "broker" "$DIR/broker.pid" broker_registered "$DIR/logs/broker.log"
  log "ready after ${SECONDS}s (state in $DIR)"
  url
}

stop_one() {
  local name=$1 pid=$2
  log "stopping $name (pid $pid)"
  stop_pid "$pid" 60 "$name"
}

stop() {
  local pid stopped=''
  if pid=$(broker_pid); then
    stop_one broker "$pid"
    stopped=1
  fi
  rm -f "$DIR/broker.pid"
  if pid=$(namesrv_pid); then
    stop_one "name server" "$pid"
    stopped=1
  fi
  rm -f "$DIR/namesrv.pid"
  if [[ -n $stopped ]]; then log "stopped"; else log "not running"; fi
}

status() {
  local npid bpid
  if npid=$(namesrv_pid) && bpid=$(broker_pid) && broker_registered; then
    echo "running (namesrv pid $npid, broker pid $bpid) $(url)"
  else
    echo "stopped"
    return 1
  fi
}

mqadmin() {
  [[ -f $LIBS/.complete ]] || die "not installed (run install first)"
  [[ -f $DIR/conf/logback-tools.xml ]] || write_config
  java -Xmx256m "-Drocketmq.home.dir=$DIR/home" "-Duser.home=$DIR/home" \
    "-Drmq.logback.configurationFile=$DIR/conf/logback-tools.xml" -cp "$DIR/home/conf:$LIBS/*" \
    org.apache.rocketmq.tools.command.MQAdminStartup "$@" 2>/dev/null
}

dispatch '{install|start|stop|status|mqadmin <args...>}' "$@"
