set -eu
umask 077
rm -f @HOME@/.erlang.cookie
cat @COOKIE_DIR@/@ERLANG_COOKIE_KEY@ > @HOME@/.erlang.cookie
chmod 600 @HOME@/.erlang.cookie
