#!/bin/sh
# Starts one Kafka node (broker + controller) of MessageQueue @NAMESPACE@/@NAME@.
set -eu
run=@RUN_DIR@
data=@LOG_DIRS@
self="$POD_NAME.@DOMAIN@"

fail() { echo "mqop: $*" >&2; exit 1; }
# Kafka CLI tools get a small heap of their own, not the broker's.
tool() { t=$1; shift; KAFKA_HEAP_OPTS="-Xmx256m" KAFKA_LOG4J_OPTS="-Dlog4j.configuration=file:@CONFIG_DIR@/tools-log4j.properties" "@KAFKA_HOME@/bin/$t" "$@"; }
# A value inside a JAAS "quoted string" inside a .properties file: escape \ and " for JAAS, then \ again.
jaas() { printf '%s' "$1" | sed -e 's/\\/\\\\\\\\/g' -e 's/"/\\\\"/g'; }

node_id=${POD_NAME##*-}
case "$node_id" in ''|*[!0-9]*) fail "cannot read the node id from pod name $POD_NAME" ;; esac
case "$KAFKA_USERNAME" in
  ''|*[!A-Za-z0-9._@-]*) fail "the username must be letters, digits and . _ @ - (Kafka principals and SCRAM records)" ;;
  @CLUSTER_PRINCIPAL@) fail "the username @CLUSTER_PRINCIPAL@ is reserved for mqop's internal principal" ;;
esac
case "$KAFKA_PASSWORD" in
  ''|*,*|*[!\ -~]*) fail "the password must be printable ASCII without commas (kafka-storage --add-scram splits on commas)" ;;
esac

umask 077
user_pw=$(jaas "$KAFKA_PASSWORD")
{
  cat @CONFIG_DIR@/server.properties
  echo "node.id=$node_id"
  echo "advertised.listeners=CLIENT://$self:@CLIENT_PORT@,REPLICATION://$self:@REPLICATION_PORT@"
  echo "super.users=User:@CLUSTER_PRINCIPAL@;User:$KAFKA_USERNAME"
  echo "listener.name.replication.scram-sha-512.sasl.jaas.config=@SCRAM_LOGIN@ required username=\"@CLUSTER_PRINCIPAL@\" password=\"$CLUSTER_PASSWORD\";"
  echo "listener.name.controller.plain.sasl.jaas.config=@PLAIN_LOGIN@ required username=\"@CLUSTER_PRINCIPAL@\" password=\"$CLUSTER_PASSWORD\" user_@CLUSTER_PRINCIPAL@=\"$CLUSTER_PASSWORD\";"
} > "$run/server.properties"
# Client settings for the application user, e.g. for kubectl exec:
#   kafka-topics.sh --bootstrap-server localhost:@CLIENT_PORT@ --command-config @RUN_DIR@/client.properties --list
cat > "$run/client.properties" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=@SCRAM@
sasl.jaas.config=@SCRAM_LOGIN@ required username="$KAFKA_USERNAME" password="$user_pw";
EOF
# The internal principal on the replication listener (admin requests) and on the controllers.
cat > "$run/internal.properties" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=@SCRAM@
sasl.jaas.config=@SCRAM_LOGIN@ required username="@CLUSTER_PRINCIPAL@" password="$CLUSTER_PASSWORD";
EOF
cat > "$run/controller.properties" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=PLAIN
sasl.jaas.config=@PLAIN_LOGIN@ required username="@CLUSTER_PRINCIPAL@" password="$CLUSTER_PASSWORD";
request.timeout.ms=5000
default.api.timeout.ms=15000
EOF

if [ ! -f "$data/meta.properties" ]; then
  # A fresh pod. If a quorum is already running without this node among its voters, the voter
  # list changed under it (replicas changed): formatting now could start a second metadata
  # history under the same cluster id. Refuse and leave the running pods alone.
  peers=""
  for v in @VOTERS@; do
    case "$v" in "$node_id@"*) ;; *) peers="$peers,${v#*@}" ;; esac
  done
  peers=${peers#,}
  if [ -n "$peers" ] && status=$(tool kafka-metadata-quorum.sh --bootstrap-controller "$peers" --command-config "$run/controller.properties" describe --status 2>/dev/null); then
    current=$(printf '%s\n' "$status" | sed -n 's/^CurrentVoters: *//p')
    case "$current" in
      *"\"id\": $node_id,"*) ;;
      *) fail "a running KRaft quorum has voters $current without node $node_id: Kafka 3.9 cannot change a static quorum, so set replicas back to the size the cluster was created with" ;;
    esac
  fi
  echo "mqop: formatting $data for cluster $CLUSTER_ID"
  tool kafka-storage.sh format --cluster-id "$CLUSTER_ID" --config "$run/server.properties" \
    --add-scram "@SCRAM@=[name=\"@CLUSTER_PRINCIPAL@\",password=\"$CLUSTER_PASSWORD\"]" \
    --add-scram "@SCRAM@=[name=\"$KAFKA_USERNAME\",password=\"$KAFKA_PASSWORD\"]"
fi

# Re-apply the application user's SCRAM credential once this broker answers, so a changed
# credentials Secret takes effect at the next restart. The value goes through a 0600 file, not argv.
printf '%s=password=%s\n' "@SCRAM@" "$(printf '%s' "$KAFKA_PASSWORD" | sed 's/\\/\\\\/g')" > "$run/user-scram.properties"
(
  i=0
  while [ $i -lt 60 ]; do
    sleep 5
    i=$((i + 1))
    if tool kafka-configs.sh --bootstrap-server "$self:@REPLICATION_PORT@" --command-config "$run/internal.properties" \
      --alter --entity-type users --entity-name "$KAFKA_USERNAME" --add-config-file "$run/user-scram.properties" >/dev/null 2>&1; then
      rm -f "$run/user-scram.properties"
      exit 0
    fi
  done
  echo "mqop: could not refresh the SCRAM credential of $KAFKA_USERNAME; the one from the last format or refresh stays" >&2
) &

exec @KAFKA_HOME@/bin/kafka-server-start.sh "$run/server.properties"
