#!/bin/sh
# Starts one Kafka node (broker + controller) of MessageQueue __NAMESPACE__/__NAME__.
set -eu
run=__RUN_DIR__
data=__LOG_DIRS__
self="$POD_NAME.__DOMAIN__"

fail() { echo "mqop: $*" >&2; exit 1; }
# Kafka CLI tools get a small heap of their own, not the broker's.
tool() { t=$1; shift; KAFKA_HEAP_OPTS="-Xmx256m" KAFKA_LOG4J_OPTS="-Dlog4j.configuration=file:__CONFIG_DIR__/tools-log4j.properties" "__KAFKA_HOME__/bin/$t" "$@"; }
# A value inside a JAAS "quoted string" inside a .properties file: escape \ and " for JAAS, then \ again.
jaas() { printf '%s' "$1" | sed -e 's/\\/\\\\\\\\/g' -e 's/"/\\\\"/g'; }

node_id=${POD_NAME##*-}
case "$node_id" in ''|*[!0-9]*) fail "cannot read the node id from pod name $POD_NAME" ;; esac
case "$KAFKA_USERNAME" in
  ''|*[!A-Za-z0-9._@-]*) fail "the username must be letters, digits and . _ @ - (Kafka principals and SCRAM records)" ;;
  __CLUSTER_PRINCIPAL__) fail "the username __CLUSTER_PRINCIPAL__ is reserved for mqop's internal principal" ;;
esac
case "$KAFKA_PASSWORD" in
  ''|*,*|*[!\ -~]*) fail "the password must be printable ASCII without commas (kafka-storage --add-scram splits on commas)" ;;
esac

umask 077
user_pw=$(jaas "$KAFKA_PASSWORD")
{
  cat __CONFIG_DIR__/server.properties
  echo "node.id=$node_id"
  echo "advertised.listeners=CLIENT://$self:__CLIENT_PORT__,REPLICATION://$self:__REPLICATION_PORT__"
  echo "super.users=User:__CLUSTER_PRINCIPAL__;User:$KAFKA_USERNAME"
  echo "listener.name.replication.scram-sha-512.sasl.jaas.config=__SCRAM_LOGIN__ required username=\"__CLUSTER_PRINCIPAL__\" password=\"$CLUSTER_PASSWORD\";"
  echo "listener.name.controller.plain.sasl.jaas.config=__PLAIN_LOGIN__ required username=\"__CLUSTER_PRINCIPAL__\" password=\"$CLUSTER_PASSWORD\" user___CLUSTER_PRINCIPAL__=\"$CLUSTER_PASSWORD\";"
} > "$run/server.properties"
# Client settings for the application user, e.g. for kubectl exec:
#   kafka-topics.sh --bootstrap-server localhost:__CLIENT_PORT__ --command-config __RUN_DIR__/client.properties --list
cat > "$run/client.properties" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=__SCRAM__
sasl.jaas.config=__SCRAM_LOGIN__ required username="$KAFKA_USERNAME" password="$user_pw";
EOF
# The internal principal on the replication listener (admin requests) and on the controllers.
cat > "$run/internal.properties" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=__SCRAM__
sasl.jaas.config=__SCRAM_LOGIN__ required username="__CLUSTER_PRINCIPAL__" password="$CLUSTER_PASSWORD";
EOF
cat > "$run/controller.properties" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=PLAIN
sasl.jaas.config=__PLAIN_LOGIN__ required username="__CLUSTER_PRINCIPAL__" password="$CLUSTER_PASSWORD";
request.timeout.ms=5000
default.api.timeout.ms=15000
EOF

if [ ! -f "$data/meta.properties" ]; then
  # A fresh pod. If a quorum is already running without this node among its voters, the voter
  # list changed under it (replicas changed): formatting now could start a second metadata
  # history under the same cluster id. Refuse and leave the running pods alone.
  peers=""
  for v in __VOTERS__; do
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
    --add-scram "__SCRAM__=[name=\"__CLUSTER_PRINCIPAL__\",password=\"$CLUSTER_PASSWORD\"]" \
    --add-scram "__SCRAM__=[name=\"$KAFKA_USERNAME\",password=\"$KAFKA_PASSWORD\"]"
fi

# Re-apply the application user's SCRAM credential once this broker answers, so a changed
# credentials Secret takes effect at the next restart. The value goes through a 0600 file, not argv.
printf '%s=password=%s\n' "__SCRAM__" "$(printf '%s' "$KAFKA_PASSWORD" | sed 's/\\/\\\\/g')" > "$run/user-scram.properties"
(
  i=0
  while [ $i -lt 60 ]; do
    sleep 5
    i=$((i + 1))
    if tool kafka-configs.sh --bootstrap-server "$self:__REPLICATION_PORT__" --command-config "$run/internal.properties" \
      --alter --entity-type users --entity-name "$KAFKA_USERNAME" --add-config-file "$run/user-scram.properties" >/dev/null 2>&1; then
      rm -f "$run/user-scram.properties"
      exit 0
    fi
  done
  echo "mqop: could not refresh the SCRAM credential of $KAFKA_USERNAME; the one from the last format or refresh stays" >&2
) &

exec __KAFKA_HOME__/bin/kafka-server-start.sh "$run/server.properties"
