#!/usr/bin/env bash
# Starts HAProxy in front of Poplar nodes.
#   start-haproxy.sh DIR BIND PORT NODE_HOST:POP3_PORT:HTTP_PORT...
# Each node must run with --proxy-trusted <HAProxy's address> and --http-listen <its HTTP_PORT>.
# Check interval: HAPROXY_INTER (default 2s); connections: HAPROXY_MAXCONN (default 8000). Stop with: kill $(cat DIR/haproxy.pid)
set -euo pipefail
dir=$1 bind=$2 port=$3
shift 3
mkdir -p "$dir"
sed -e "s|@DIR@|$dir|g" -e "s|@BIND@|$bind|g" -e "s|@PORT@|$port|g" -e "s|@INTER@|${HAPROXY_INTER:-2s}|g" \
    -e "s|@MAXCONN@|${HAPROXY_MAXCONN:-8000}|g" \
    "$(dirname "$0")/haproxy.cfg.in" > "$dir/haproxy.cfg"
i=0
for node in "$@"; do
  IFS=: read -r host pop3 http <<<"$node"
  i=$((i + 1))
  echo "    server node$i $host:$pop3 check port $http" >> "$dir/haproxy.cfg"
done
haproxy -c -q -f "$dir/haproxy.cfg"
haproxy -D -f "$dir/haproxy.cfg" -p "$dir/haproxy.pid"
for _ in $(seq 1 50); do
  if (echo > /dev/tcp/"$bind"/"$port") 2>/dev/null; then exit 0; fi
  sleep 0.1
done
echo "haproxy did not start" >&2
exit 1
