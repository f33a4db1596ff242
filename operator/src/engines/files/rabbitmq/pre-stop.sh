if grep -qs '^__SKIP_PRESTOP_ANNOTATION__="true"$' __PODINFO_DIR__/annotations; then exit 0; fi
__SBIN__/rabbitmq-upgrade await_online_quorum_plus_one -t __QUORUM_WAIT_SECONDS__ || true
__SBIN__/rabbitmq-upgrade drain -t __DRAIN_SECONDS__ || true
