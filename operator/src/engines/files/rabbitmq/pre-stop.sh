if grep -qs '^@SKIP_PRESTOP_ANNOTATION@="true"$' @PODINFO_DIR@/annotations; then exit 0; fi
@SBIN@/rabbitmq-upgrade await_online_quorum_plus_one -t @QUORUM_WAIT_SECONDS@ || true
@SBIN@/rabbitmq-upgrade drain -t @DRAIN_SECONDS@ || true
