direct=$((MEMORY_LIMIT_MB * 20 / 100))
if [ "$direct" -lt 64 ]; then direct=64; fi
conf=@RUN_DIR@/broker.conf
umask 077
{
  cat @CONF_DIR@/broker.conf
  cat @SECRET_DIR@/@CREDENTIALS_FILE@
  echo "brokerName=$POD_NAME"
  echo "brokerIP1=$POD_IP"
} > "$conf"
