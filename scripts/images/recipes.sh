# Engine recipes for scripts/images/build-brokers.sh (sourced; not run on its own).
# setup_<engine>: IMAGE (the upstream ref the renderer uses), BASE + PACKAGES (the Debian base),
#                 INPUTS (extra files keying the image, e.g. jars).
# recipe_<engine>: customizes the unpacked root $R; sets CFG_USER, CFG_ENV (array), CFG_CMD and
#                 CFG_ENTRYPOINT (JSON arrays; entrypoint may be empty), CFG_WORKDIR, CONTENTS.
# shellcheck shell=bash disable=SC2034 # sets variables build-brokers.sh reads

setup_redis() {
  IMAGE=docker.io/library/redis:7.4.6 BASE=redis PACKAGES="redis-server,redis-tools"
  INPUTS=()
}
recipe_redis() {
  set_user redis 999 999 /data
  own_dirs 999:999 /data /run/redis /etc/redis
  CFG_USER=999:999 CFG_WORKDIR=/data CFG_ENTRYPOINT='' CFG_CMD='["redis-server"]'
  CFG_ENV=("$PATH_ENV")
  CONTENTS="Debian bookworm redis-server $(deb_version redis-server)"
}


# Debian's rabbitmq-server is 3.10.x. Also tagged with its real version's name
# (docker.io/library/rabbitmq:<3.10.x>-management): a MessageQueue with spec.version: 3.10.x makes
# the renderer use the pre-4.1 peer discovery (Kubernetes API), which is what 3.10 has.
RABBITMQ_DEB_VERSION=3.10.8
setup_rabbitmq() {
  IMAGE=docker.io/library/rabbitmq:4.1.4-management BASE=rabbitmq PACKAGES="rabbitmq-server"
  EXTRA_TAGS=("docker.io/library/rabbitmq:$RABBITMQ_DEB_VERSION-management")
  INPUTS=()
}
recipe_rabbitmq() {
  local v home
  v=$(deb_version rabbitmq-server)
  v=${v%%-*}
  [[ $v == "$RABBITMQ_DEB_VERSION" ]] || die "Debian now has rabbitmq-server $v; update RABBITMQ_DEB_VERSION in recipes.sh"
  home=/usr/lib/rabbitmq/lib/rabbitmq_server-$v
  set_user rabbitmq 999 999 /var/lib/rabbitmq
  own_dirs 999:999 /var/lib/rabbitmq /var/log/rabbitmq /etc/rabbitmq
  # The upstream layout: /opt/rabbitmq/{sbin,plugins,...}, sbin on PATH. sbin holds links to the
  # real scripts (they resolve their own links to find RABBITMQ_HOME), except rabbitmq-server.
  mkdir -p "$R/opt/rabbitmq/sbin"
  local f
  for f in "$R$home"/sbin/*; do ln -s "$home/sbin/$(basename "$f")" "$R/opt/rabbitmq/sbin/"; done
  for f in plugins escript ebin; do [[ -e $R$home/$f ]] && ln -s "$home/$f" "$R/opt/rabbitmq/$f"; done
  rm "$R/opt/rabbitmq/sbin/rabbitmq-server"
  # 3.10 does not read RABBITMQ_DEFAULT_USER/PASS itself (3.11+ does; before, the upstream image's
  # entrypoint turned them into config). Same here: a conf.d copy in /tmp plus default_user/pass.
  cat >"$R/opt/rabbitmq/sbin/rabbitmq-server" <<SH
#!/bin/sh
# mqop offline image (scripts/images/recipes.sh): makes RabbitMQ $v work like the upstream
# image under the renderer (default user from env, logs off the read-only root).
set -eu
if [ -n "\${RABBITMQ_DEFAULT_USER:-}" ]; then
  d=\$(mktemp -d /tmp/mqop-conf.d.XXXXXX)
  src=\${RABBITMQ_CONFIG_FILES:-/etc/rabbitmq/conf.d}
  if [ -d "\$src" ]; then for f in "\$src"/*.conf; do [ ! -e "\$f" ] || cp "\$f" "\$d/"; done; fi
  (umask 077 && printf 'default_user = %s\\ndefault_pass = %s\\n' "\$RABBITMQ_DEFAULT_USER" "\${RABBITMQ_DEFAULT_PASS:-}" >"\$d/zz-mqop-default-user.conf")
  export RABBITMQ_CONFIG_FILES="\$d"
  unset RABBITMQ_DEFAULT_USER RABBITMQ_DEFAULT_PASS
fi
# 3.10 writes an upgrade log file even with RABBITMQ_LOGS=-; the root file system is read-only.
if [ -z "\${RABBITMQ_LOG_BASE:-}" ]; then
  export RABBITMQ_LOG_BASE=/tmp/rabbitmq-log
  mkdir -p "\$RABBITMQ_LOG_BASE"
fi
exec $home/sbin/rabbitmq-server "\$@"
SH
  chmod 0755 "$R/opt/rabbitmq/sbin/rabbitmq-server"
  CFG_USER=999:999 CFG_WORKDIR=/var/lib/rabbitmq CFG_ENTRYPOINT='' CFG_CMD='["rabbitmq-server"]'
  CFG_ENV=("PATH=/opt/rabbitmq/sbin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    "RABBITMQ_DATA_DIR=/var/lib/rabbitmq" "HOME=/var/lib/rabbitmq" "LANG=C.UTF-8")
  CONTENTS="Debian bookworm rabbitmq-server $(deb_version rabbitmq-server), erlang-base $(deb_version erlang-base)"
}
setup_kafka() {
  IMAGE=docker.io/apache/kafka:$KAFKA_VERSION BASE=java PACKAGES=$JAVA_PACKAGES
  local d
  d=$(jar_dir kafka)
  mapfile -t INPUTS < <(find "$d" -name '*.jar' | LC_ALL=C sort)
}
setup_activemq() {
  IMAGE=docker.io/apache/activemq-classic:$ACTIVEMQ_VERSION BASE=java PACKAGES=$JAVA_PACKAGES
  local d
  d=$(jar_dir activemq)
  mapfile -t INPUTS < <(find "$d" -name '*.jar' | LC_ALL=C sort)
}
setup_rocketmq() {
  IMAGE=docker.io/apache/rocketmq:$ROCKETMQ_VERSION BASE=java PACKAGES=$JAVA_PACKAGES
  local d
  d=$(jar_dir rocketmq)
  mapfile -t INPUTS < <(find "$d" -name '*.jar' | LC_ALL=C sort)
}

# ---- Java engines: Debian's OpenJDK 17 + the jars the test beds fetched from Maven Central -------
copy_jars() { # <engine> <dest dir in the image>
  mkdir -p "$R$2"
  cp "${INPUTS[@]}" "$R$2/"
  chmod 0644 "$R$2"/*.jar
}
java_version() { deb_version openjdk-17-jre-headless; }

# Kafka: the upstream image's layout (/opt/kafka/{bin,libs,config}, user appuser 1000). The
# distribution's bin/*.sh are not on Maven Central, so bin/ holds small launchers of our own for
# the tools the renderer's start script calls (and a few for kubectl exec).
recipe_kafka() {
  set_user appuser 1000 1000 /home/appuser
  own_dirs 1000:1000 /var/lib/kafka/data /etc/kafka /run/kafka /opt/kafka/logs
  copy_jars kafka /opt/kafka/libs
  mkdir -p "$R/opt/kafka/bin" "$R/opt/kafka/config"
  cat >"$R/opt/kafka/bin/kafka-run-class.sh" <<'SH'
#!/bin/sh
# mqop offline image (scripts/images/recipes.sh): runs a Kafka main class with the jars in
# /opt/kafka/libs, honouring the upstream scripts' variables KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS,
# KAFKA_OPTS, KAFKA_LOG4J_OPTS and LOG_DIR.
# Usage: kafka-run-class.sh [-daemon] [-name <name>] <main class> [args...]
while [ $# -gt 0 ]; do
  case $1 in
    -daemon) shift ;;
    -name) shift 2 ;;
    *) break ;;
  esac
done
: "${LOG_DIR:=/opt/kafka/logs}"
: "${KAFKA_HEAP_OPTS:=-Xmx256M}"
: "${KAFKA_JVM_PERFORMANCE_OPTS:=-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true}"
: "${KAFKA_LOG4J_OPTS:=-Dlog4j.configuration=file:/opt/kafka/config/tools-log4j.properties}"
mkdir -p "$LOG_DIR" 2>/dev/null || true
# shellcheck disable=SC2086 # the *_OPTS variables are word lists
exec java $KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS $KAFKA_OPTS $KAFKA_LOG4J_OPTS \
  "-Dkafka.logs.dir=$LOG_DIR" -cp "/opt/kafka/libs/*" "$@"
SH
  local tool cls
  while read -r tool cls; do
    printf '#!/bin/sh\n# mqop offline image: %s\nexec /opt/kafka/bin/kafka-run-class.sh %s "$@"\n' "$tool" "$cls" >"$R/opt/kafka/bin/$tool"
  done <<'EOF2'
kafka-server-start.sh kafka.Kafka
kafka-storage.sh kafka.tools.StorageTool
kafka-configs.sh kafka.admin.ConfigCommand
kafka-metadata-quorum.sh org.apache.kafka.tools.MetadataQuorumCommand
kafka-topics.sh org.apache.kafka.tools.TopicCommand
kafka-console-producer.sh kafka.tools.ConsoleProducer
kafka-console-consumer.sh org.apache.kafka.tools.consumer.ConsoleConsumer
EOF2
  chmod 0755 "$R/opt/kafka/bin"/*
  cat >"$R/opt/kafka/config/tools-log4j.properties" <<'EOF2'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.appender.stderr.Target=System.err
EOF2
  CFG_USER=1000:1000 CFG_WORKDIR=/opt/kafka CFG_ENTRYPOINT=''
  CFG_CMD='["/opt/kafka/bin/kafka-server-start.sh","/opt/kafka/config/server.properties"]'
  CFG_ENV=("PATH=/opt/kafka/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "LANG=C.UTF-8")
  CONTENTS="Apache Kafka $KAFKA_VERSION jars (Maven Central, ${#INPUTS[@]} jars) + Debian bookworm openjdk-17-jre-headless $(java_version)"
}

# ActiveMQ Classic: the upstream image's layout (/opt/apache-activemq/{bin,lib}, user activemq
# 1000). bin/activemq is our own launcher of the console main class (the distribution's script is
# not on Maven Central); `activemq console <args>` runs the broker in the foreground like upstream.
recipe_activemq() {
  set_user activemq 1000 1000 /opt/apache-activemq
  own_dirs 1000:1000 /var/lib/activemq /etc/activemq /opt/apache-activemq/data /opt/apache-activemq/tmp
  copy_jars activemq /opt/apache-activemq/lib
  mkdir -p "$R/opt/apache-activemq/bin" "$R/opt/apache-activemq/conf"
  chown 1000:1000 "$R/opt/apache-activemq"
  cat >"$R/opt/apache-activemq/bin/activemq" <<'SH'
#!/bin/sh
# mqop offline image (scripts/images/recipes.sh): runs org.apache.activemq.console.Main with the
# jars in $ACTIVEMQ_HOME/lib and the upstream script's variables (ACTIVEMQ_HOME, _BASE, _CONF,
# _DATA, _TMP, _OPTS). `console` runs the broker in the foreground (Main's `start`); any other
# command (query, dstat, browse, ...) is passed through.
: "${ACTIVEMQ_HOME:=/opt/apache-activemq}"
: "${ACTIVEMQ_BASE:=$ACTIVEMQ_HOME}"
: "${ACTIVEMQ_CONF:=$ACTIVEMQ_BASE/conf}"
: "${ACTIVEMQ_DATA:=$ACTIVEMQ_BASE/data}"
: "${ACTIVEMQ_TMP:=$ACTIVEMQ_BASE/tmp}"
: "${ACTIVEMQ_OPTS:=-Xms64M -Xmx1G}"
cmd=${1:-console}
[ $# -eq 0 ] || shift
[ "$cmd" != console ] || cmd=start
# shellcheck disable=SC2086 # ACTIVEMQ_OPTS is a word list
exec java $ACTIVEMQ_OPTS -Djava.awt.headless=true -Djava.io.tmpdir="$ACTIVEMQ_TMP" \
  -Dactivemq.classpath="$ACTIVEMQ_CONF" -Dactivemq.home="$ACTIVEMQ_HOME" -Dactivemq.base="$ACTIVEMQ_BASE" \
  -Dactivemq.conf="$ACTIVEMQ_CONF" -Dactivemq.data="$ACTIVEMQ_DATA" \
  -cp "$ACTIVEMQ_HOME/lib/*" org.apache.activemq.console.Main "$cmd" "$@"
SH
  chmod 0755 "$R/opt/apache-activemq/bin/activemq"
  CFG_USER=1000:1000 CFG_WORKDIR=/opt/apache-activemq CFG_ENTRYPOINT=''
  CFG_CMD='["/opt/apache-activemq/bin/activemq","console"]'
  CFG_ENV=("PATH=/opt/apache-activemq/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "LANG=C.UTF-8"
    "ACTIVEMQ_HOME=/opt/apache-activemq")
  CONTENTS="Apache ActiveMQ Classic $ACTIVEMQ_VERSION jars (Maven Central, ${#INPUTS[@]} jars) + Debian bookworm openjdk-17-jre-headless $(java_version)"
}

# RocketMQ: the upstream image's layout (ROCKETMQ_HOME=/home/rocketmq/rocketmq-<v> with lib/ and
# conf/, user rocketmq 3000). The renderer's start scripts run java with the jars directly.
recipe_rocketmq() {
  local home=/home/rocketmq/rocketmq-$ROCKETMQ_VERSION
  set_user rocketmq 3000 3000 /home/rocketmq
  own_dirs 3000:3000 /home/rocketmq/store /home/rocketmq/logs /home/rocketmq/namesrv /home/rocketmq/run /etc/rocketmq
  copy_jars rocketmq "$home/lib"
  mkdir -p "$R$home/conf" "$R$home/bin"
  CFG_USER=3000:3000 CFG_WORKDIR=$home CFG_ENTRYPOINT='' CFG_CMD='["sh","-c","echo set a command: the renderer starts namesrv and broker itself; exit 1"]'
  CFG_ENV=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "LANG=C.UTF-8"
    "JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64" "ROCKETMQ_HOME=$home" "ROCKETMQ_VERSION=$ROCKETMQ_VERSION")
  CONTENTS="Apache RocketMQ $ROCKETMQ_VERSION jars (Maven Central, ${#INPUTS[@]} jars) + Debian bookworm openjdk-17-jre-headless $(java_version)"
}
