set -eu
umask 077
rm -f __HOME__/.erlang.cookie
cat __COOKIE_DIR__/__ERLANG_COOKIE_KEY__ > __HOME__/.erlang.cookie
chmod 600 __HOME__/.erlang.cookie
