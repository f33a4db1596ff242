#!/usr/bin/env bash
# Kafka test bed for the smoke tests: Apache Kafka (KRaft, combined broker+controller, one node)
# on 127.0.0.1, SASL_PLAINTEXT with SCRAM-SHA-512 for clients, user `mqop`.
#
# Usage: scripts/brokers/kafka.sh {install|start|stop|status}
# Env:   MQOP_KAFKA_VERSION         (default 3.9.1)   org.apache.kafka:kafka_2.13 version
#        MQOP_KAFKA_PORT            (default 19092)   client listener (SASL_PLAINTEXT, SCRAM-SHA-512)
#        MQOP_KAFKA_CONTROLLER_PORT (default 19093)   KRaft controller listener (PLAINTEXT)
#        MQOP_TEST_PASSWORD         (default mqop-test-pw) password of user `mqop`
#        MQOP_KAFKA_HEAP            (default -Xmx512m -Xms256m)
#        MQOP_CACHE                 (default $HOME/.cache/mqop)
#        MQOP_KAFKA_DIR             (default $MQOP_CACHE/brokers/kafka) state, config and logs
#
# install: resolves the jars from Maven Central once (a throwaway pom in the cache dir, then
#          `mvn dependency:copy-dependencies`) into $MQOP_CACHE/kafka/<version>/libs; instant after.
# start:   writes the config, formats the storage (first time only, with the SCRAM user), starts
#          the JVM in the background, waits until a SCRAM login succeeds, prints the URL.
# stop:    SIGTERM, waits for a clean exit (SIGKILL after 60 s).
# All four are idempotent. `start` keeps the data dir between runs; `stop` does not delete it.
set -euo pipefail
LOG_PREFIX='[kafka] '
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VERSION="${MQOP_KAFKA_VERSION:-3.9.1}"
PORT="${MQOP_KAFKA_PORT:-19092}"
CTRL_PORT="${MQOP_KAFKA_CONTROLLER_PORT:-19093}"
HEAP="${MQOP_KAFKA_HEAP:--Xmx512m -Xms256m}"
LIBS="$CACHE/kafka/$VERSION/libs"
DIR="${MQOP_KAFKA_DIR:-$CACHE/brokers/kafka}"
PIDFILE="$DIR/kafka.pid"

# Our JVM's pid, if it runs.
running_pid() { pid_of "$PIDFILE" 'kafka.Kafka'; }

install() {
  maven_jars kafka "$LIBS" "org.apache.kafka:kafka_2.13:$VERSION" "kafka_2.13-$VERSION.jar" <<EOF
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId><version>1.2.25</version></dependency>
  </dependencies>
EOF
}

write_config() {
  mkdir -p "$DIR/data" "$DIR/logs"
  # The JAAS line holds the password: keep the config readable by us only.
  local old_umask
  old_umask=$(umask)
  umask 077
  # ANONYMOUS is the principal of the PLAINTEXT controller listener (broker -> controller in this
  # same JVM); clients only ever reach the SASL listener.
  cat >"$DIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CTRL_PORT
listeners=CLIENT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CTRL_PORT
advertised.listeners=CLIENT://127.0.0.1:$PORT
listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=CLIENT
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.client.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="mqop" password="$PASSWORD";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:mqop;User:ANONYMOUS
log.dirs=$DIR/data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
log.segment.bytes=67108864
log.retention.hours=1
socket.request.max.bytes=104857600
EOF
  cat >"$DIR/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$DIR/logs/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.authorizer.logger=WARN
EOF
  umask "$old_umask"
}

format_storage() {
  # The SCRAM credential is written at format time: a different password means a fresh format.
  local fingerprint
  fingerprint=$(printf '%s' "$PASSWORD" | sha256sum | cut -d' ' -f1)
  if [[ -f $DIR/data/meta.properties ]]; then
    if [[ "$(cat "$DIR/password.sha256" 2>/dev/null)" == "$fingerprint" ]]; then
      return
    fi
    log "password changed since the storage was formatted: wiping $DIR/data"
    rm -rf "$DIR/data"
    mkdir -p "$DIR/data"
  fi
  local cluster_id
  cluster_id=$(java -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)
  [[ -n $cluster_id ]] || die "could not generate a cluster id"
  log "formatting storage in $DIR/data (cluster $cluster_id)"
  java -Dlog4j.configuration="file:$DIR/log4j.properties" -cp "$LIBS/*" kafka.tools.StorageTool format \
    -t "$cluster_id" -c "$DIR/server.properties" \
    --add-scram "SCRAM-SHA-512=[name=mqop,password=$PASSWORD]" >"$DIR/logs/format.log" 2>&1 ||
    die "storage format failed (see $DIR/logs/format.log)"
  echo "$fingerprint" >"$DIR/password.sha256"
}

# A real SCRAM-SHA-512 login plus a metadata request, through kafkajs from this repo.
sasl_ready() {
  (cd "$REPO" && MQOP_KAFKA_PORT="$PORT" MQOP_TEST_PASSWORD="$PASSWORD" timeout 20 node_modules/.bin/node -e '
    const { Kafka, logLevel } = require("kafkajs");
    const kafka = new Kafka({
      clientId: "mqop-testbed", brokers: ["127.0.0.1:" + process.env.MQOP_KAFKA_PORT], ssl: false,
      sasl: { mechanism: "scram-sha-512", username: "mqop", password: process.env.MQOP_TEST_PASSWORD },
      logLevel: logLevel.NOTHING, connectionTimeout: 3000, retry: { retries: 0 },
    });
    const admin = kafka.admin();
    admin.connect().then(() => admin.listTopics()).then(
      () => admin.disconnect().then(() => process.exit(0)),
      () => process.exit(1));
  ') >/dev/null 2>&1
}

start() {
  install
  local pid
  if pid=$(running_pid); then
    log "already running (pid $pid)"
    echo "kafka://127.0.0.1:$PORT"
    return
  fi
  if port_open "$PORT" || port_open "$CTRL_PORT"; then
    die "port $PORT or $CTRL_PORT is already in use by another process"
  fi
  write_config
  format_storage
  log "starting Kafka $VERSION on 127.0.0.1:$PORT (logs: $DIR/logs)"
  # shellcheck disable=SC2086 # HEAP is a list of JVM flags
  nohup java $HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$DIR/log4j.properties" -Dkafka.logs.dir="$DIR/logs" \
    -cp "$LIBS/*" kafka.Kafka "$DIR/server.properties" \
    >"$DIR/logs/stdout.log" 2>&1 </dev/null &
  local started=$!
  echo "$started" >"$PIDFILE"
  local deadline=$((SECONDS + ${MQOP_KAFKA_START_TIMEOUT:-170}))
  while ((SECONDS < deadline)); do
    # By pid only: right after the fork the child's command line is still bash's, not the JVM's,
    # so running_pid would take a starting broker for a dead one (seen when the smoke suite
    # restarts Kafka right after the contract suite stopped it).
    kill -0 "$started" 2>/dev/null || {
      tail -n 30 "$DIR/logs/stdout.log" "$DIR/logs/server.log" >&2 2>/dev/null || true
      die "Kafka exited during startup"
    }
    if port_open "$PORT" && sasl_ready; then
      log "ready after ${SECONDS}s"
      echo "kafka://127.0.0.1:$PORT"
      return
    fi
    sleep 1
  done
  stop
  die "Kafka not ready in time (see $DIR/logs/server.log)"
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$PIDFILE"
    log "not running"
    return
  fi
  log "stopping pid $pid"
  stop_pid "$pid" 60
  rm -f "$PIDFILE"
  log "stopped"
}

status() {
  local pid
  if pid=$(running_pid); then
    echo "running pid $pid kafka://127.0.0.1:$PORT"
  else
    echo "stopped"
    return 1
  fi
}

dispatch '{install|start|stop|status}' "$@"
