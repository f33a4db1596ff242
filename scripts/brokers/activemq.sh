#!/usr/bin/env bash
# Test bed: one ActiveMQ Classic broker for the smoke tests, on 127.0.0.1 only, credentials on.
#   scripts/brokers/activemq.sh {install|start|stop|status|url|queues}
#
# The broker runs from Maven Central jars (no distribution tarball needed) with the configuration
# mqop's own renderer produces for a MessageQueue (operator/src/engines/activemq.ts): activemq.xml,
# login.config, log4j2.properties (ConfigMap) and users.properties/groups.properties (config
# Secret, rendered with user `mqop` and $MQOP_TEST_PASSWORD). Only paths and listen addresses are
# adjusted: /etc/activemq -> $DIR/conf, /var/lib/activemq -> $DIR/data, 0.0.0.0:5672 ->
# 127.0.0.1:$MQOP_ACTIVEMQ_PORT, 0.0.0.0:61616 -> 127.0.0.1:$MQOP_ACTIVEMQ_OPENWIRE_PORT.
# `queues` lists the broker's queues with ActiveMQ's own OpenWire client (for the tests).
#
# Env: MQOP_ACTIVEMQ_VERSION (6.1.7), MQOP_ACTIVEMQ_PORT (AMQP, 15673),
#      MQOP_ACTIVEMQ_OPENWIRE_PORT (16161), MQOP_TEST_PASSWORD (mqop-test-pw),
#      MQOP_ACTIVEMQ_HEAP (-Xmx512m), MQOP_CACHE ($HOME/.cache/mqop),
#      MQOP_ACTIVEMQ_DIR (state: conf/, data/, broker.log; $MQOP_CACHE/brokers/activemq).
# Jars are cached in $MQOP_CACHE/activemq/<version>/lib. Idempotent; `stop` keeps the data.
set -euo pipefail
LOG_PREFIX='activemq.sh: '
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VERSION="${MQOP_ACTIVEMQ_VERSION:-6.1.7}"
PORT="${MQOP_ACTIVEMQ_PORT:-15673}"
OW_PORT="${MQOP_ACTIVEMQ_OPENWIRE_PORT:-16161}"
HEAP="${MQOP_ACTIVEMQ_HEAP:--Xmx512m}"
LIB="$CACHE/activemq/$VERSION/lib"
DIR="${MQOP_ACTIVEMQ_DIR:-$CACHE/brokers/activemq}"
CONF="$DIR/conf"
DATA="$DIR/data"
PIDFILE="$DIR/activemq.pid"
LOGFILE="$DIR/broker.log"
NODE="$REPO/node_modules/.bin/node"
MAIN=org.apache.activemq.console.Main

url() { echo "amqp://127.0.0.1:$PORT"; }

# Our JVM's pid, if it runs.
running_pid() { pid_of "$PIDFILE" "$MAIN"; }

# Ready: the log says the broker (connectors included) started and the AMQP port accepts
# connections. (A bare TCP probe of the OpenWire port makes the broker log a warning.)
ready() {
  grep -q 'Apache ActiveMQ .* started' "$LOGFILE" 2>/dev/null && port_open "$PORT"
}

install() {
  maven_jars activemq "$LIB" "org.apache.activemq:activemq-broker:$VERSION and friends" \
    "activemq-broker-$VERSION.jar" "activemq-amqp-$VERSION.jar" <<EOF
  <properties><spring.version>6.1.21</spring.version><log4j.version>2.24.3</log4j.version></properties>
  <dependencies>
    <dependency><groupId>org.apache.activemq</groupId><artifactId>activemq-broker</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.activemq</groupId><artifactId>activemq-spring</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.activemq</groupId><artifactId>activemq-kahadb-store</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.activemq</groupId><artifactId>activemq-amqp</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.activemq</groupId><artifactId>activemq-jaas</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.activemq</groupId><artifactId>activemq-console</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>\${log4j.version}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>\${log4j.version}</version></dependency>
    <!-- activemq-spring leaves Spring to the distribution (provided/optional): pin what 6.1.x ships. -->
    <dependency><groupId>org.springframework</groupId><artifactId>spring-context</artifactId><version>\${spring.version}</version></dependency>
    <dependency><groupId>org.springframework</groupId><artifactId>spring-beans</artifactId><version>\${spring.version}</version></dependency>
    <dependency><groupId>org.springframework</groupId><artifactId>spring-core</artifactId><version>\${spring.version}</version></dependency>
    <dependency><groupId>org.springframework</groupId><artifactId>spring-aop</artifactId><version>\${spring.version}</version></dependency>
    <dependency><groupId>org.springframework</groupId><artifactId>spring-expression</artifactId><version>\${spring.version}</version></dependency>
  </dependencies>
EOF
}

# Renders the broker configuration with mqop's renderer and adapts it to this machine.
write_config() {
  mkdir -p "$CONF" "$DATA" "$DIR/tmp"
  chmod 700 "$DIR" "$CONF"
  cat >"$DIR/messagequeue.yaml" <<'EOF'
apiVersion: mqop.dev/v1alpha1
kind: MessageQueue
metadata:
  name: smoke-testbed
  namespace: mqop-test
spec:
  engine: activemq
  replicas: 1
  storage:
    size: 4Gi
  config:
    memoryLimit: 256Mi
    maxFrameSize: 16Mi
EOF
  # The password travels by environment, never on a command line.
  MQOP_RENDER_FILE="$DIR/messagequeue.yaml" MQOP_RENDER_OUT="$CONF" MQOP_RENDER_PASSWORD="$PASSWORD" \
    "$NODE" --input-type=module -e "
import { writeFileSync } from 'node:fs';
import { parseAllDocuments } from '$REPO/node_modules/yaml/dist/index.js';
import { renderFile } from '$REPO/operator/src/cli/render-command.ts';
const out = process.env.MQOP_RENDER_OUT;
const yaml = renderFile({ files: [process.env.MQOP_RENDER_FILE], username: 'mqop', password: process.env.MQOP_RENDER_PASSWORD });
let n = 0;
for (const d of parseAllDocuments(yaml)) {
  const o = d.toJS();
  if (o?.kind === 'ConfigMap' && o.data?.['activemq.xml']) {
    for (const [k, v] of Object.entries(o.data)) { writeFileSync(out + '/' + k, v); n++; }
  }
  if (o?.kind === 'Secret' && o.data?.['users.properties']) {
    for (const [k, v] of Object.entries(o.data)) { writeFileSync(out + '/' + k, Buffer.from(v, 'base64'), { mode: 0o600 }); n++; }
  }
}
if (n < 5) { console.error('renderer gave ' + n + ' of 5 files'); process.exit(1); }
" || die "rendering the broker configuration failed"
  local f
  for f in activemq.xml login.config; do
    sed -i \
      -e "s#/etc/activemq#$CONF#g" \
      -e "s#/var/lib/activemq#$DATA#g" \
      -e "s#0\.0\.0\.0:61616#127.0.0.1:$OW_PORT#g" \
      -e "s#0\.0\.0\.0:5672#127.0.0.1:$PORT#g" \
      "$CONF/$f"
  done
  grep -q "127.0.0.1:$PORT" "$CONF/activemq.xml" || die "AMQP connector not found in the rendered activemq.xml"
  grep -q "127.0.0.1:$OW_PORT" "$CONF/activemq.xml" || die "OpenWire connector not found in the rendered activemq.xml"
}

start() {
  if running_pid >/dev/null && ready; then
    log "already running (pid $(running_pid))"
    url
    return
  fi
  if pid="$(running_pid)"; then
    log "a broker (pid $pid) is up but not ready; restarting it"
    stop
  fi
  [[ -f $LIB/.complete ]] || install
  write_config
  : >"$LOGFILE"
  # console.Main runs `start` in this JVM (jars on the classpath; no ACTIVEMQ_HOME layout needed).
  # shellcheck disable=SC2086 # $HEAP is a list of JVM options
  setsid java $HEAP -XX:+ExitOnOutOfMemoryError \
    -Djava.io.tmpdir="$DIR/tmp" \
    -Djava.security.auth.login.config="$CONF/login.config" \
    -Dlog4j2.configurationFile="$CONF/log4j2.properties" \
    -Dactivemq.home="$DIR" -Dactivemq.base="$DIR" -Dactivemq.conf="$CONF" -Dactivemq.data="$DATA" \
    -cp "$LIB/*" "$MAIN" start "xbean:file:$CONF/activemq.xml" \
    </dev/null >>"$LOGFILE" 2>&1 &
  local pid=$!
  echo "$pid" >"$PIDFILE"
  local deadline=$((SECONDS + 120))
  until ready; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "broker exited; last lines of $LOGFILE:"
      tail -30 "$LOGFILE" >&2 || true
      rm -f "$PIDFILE"
      exit 1
    fi
    if ((SECONDS > deadline)); then
      log "not ready after 120s; see $LOGFILE"
      exit 1
    fi
    sleep 0.3
  done
  log "started ActiveMQ $VERSION: AMQP 127.0.0.1:$PORT, OpenWire 127.0.0.1:$OW_PORT (pid $pid), state in $DIR"
  url
}

stop() {
  local pid=''
  pid="$(running_pid)" || true
  if [[ -z $pid ]]; then
    log "not running"
  else
    stop_pid "$pid" 60
    log "stopped"
  fi
  rm -f "$PIDFILE"
}

status() {
  if running_pid >/dev/null && ready; then
    log "running (pid $(running_pid))"
    url
  else
    log "not running"
    return 1
  fi
}

# Lists the broker's queues, one per line, as ActiveMQ's own OpenWire client sees them: the
# ActiveMQ.Advisory.Queue topic replays every existing queue to a new subscriber (the broker has
# no JMX connector, so this is the independent check the tests use).
queues() {
  running_pid >/dev/null || die "not running"
  cat >"$DIR/QueueList.java" <<'EOF'
import jakarta.jms.*;
import java.util.TreeSet;
import org.apache.activemq.ActiveMQConnectionFactory;
import org.apache.activemq.command.ActiveMQMessage;
import org.apache.activemq.command.DestinationInfo;

public class QueueList {
  public static void main(String[] args) throws Exception {
    ActiveMQConnectionFactory f = new ActiveMQConnectionFactory(args[0]);
    try (Connection c = f.createConnection("mqop", System.getenv("MQOP_TEST_PASSWORD"))) {
      c.start();
      Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
      MessageConsumer mc = s.createConsumer(s.createTopic("ActiveMQ.Advisory.Queue"));
      TreeSet<String> queues = new TreeSet<>();
      Message m;
      while ((m = mc.receive(1000)) != null) {
        if (((ActiveMQMessage) m).getDataStructure() instanceof DestinationInfo d) {
          String name = d.getDestination().getPhysicalName();
          if (d.isAddOperation()) queues.add(name); else queues.remove(name);
        }
      }
      queues.forEach(System.out::println);
    }
  }
}
EOF
  MQOP_TEST_PASSWORD="$PASSWORD" java -Dlog4j2.configurationFile="$CONF/log4j2.properties" \
    -Dorg.apache.logging.log4j.level=WARN -cp "$LIB/*" "$DIR/QueueList.java" "tcp://127.0.0.1:$OW_PORT" 2>/dev/null
}

dispatch '{install|start|stop|status|url|queues}' "$@"
