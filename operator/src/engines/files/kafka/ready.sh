#!/bin/bash
exec 3<>/dev/tcp/127.0.0.1/__CLIENT_PORT__ || exit 1
# size 10 | api_key 18 (ApiVersions) | version 0 | correlation id 1 | null client id
printf '\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x01\xff\xff' >&3
[ "$(timeout 3 head -c 8 <&3 | wc -c)" -eq 8 ]
