direct=$((MEMORY_LIMIT_MB * 20 / 100))
if [ "$direct" -lt 64 ]; then direct=64; fi
conf=__RUN_DIR__/broker.conf
umask 077
{
  cat __CONF_DIR__/broker.conf
  cat __SECRET_DIR__/__CREDENTIALS_FILE__
  echo "brokerName=$POD_NAME"
  echo "brokerIP1=$POD_IP"
} > "$conf"
