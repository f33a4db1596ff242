# Engine recipes for scripts/images/build-brokers.sh (sourced; not run on its own).
# setup_<engine>: IMAGE (the upstream ref the renderer uses), BASE + PACKAGES (the Debian base),
#                 INPUTS (extra files keying the image, e.g. jars).
# recipe_<engine>: customizes the unpacked root $R; sets CFG_USER, CFG_ENV (array), CFG_CMD and
#                 CFG_ENTRYPOINT (JSON arrays; entrypoint may be empty), CFG_WORKDIR, CONTENTS.
# shellcheck shell=bash

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
recipe_kafka() { die "kafka recipe not written yet"; }
