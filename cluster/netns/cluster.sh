#!/usr/bin/env bash
# A whole Poplar cluster on one machine, each part on a host of its own: network namespaces joined by veth pairs
# to a bridge (10.77.0.0/24, nothing routed anywhere else).
#
#   cluster.sh up DIR [NODES]     NAS (nfs-ganesha), two coordinators (active + standby), NODES nodes (default 2),
#                                 HAProxy, Postfix; prints the addresses; state and logs under DIR
#   cluster.sh down DIR           stops every process by pid and removes the namespaces and the bridge
#
# Hosts: pbr0 (this host, 10.77.0.1), p-nas .10, p-coord1 .21, p-coord2 .22, p-node1.. .31.., p-lb .5, p-mta .6.
# POPLAR (the poplar binary) must be set. Needs root, iproute2, nfs-ganesha, haproxy, postfix.
set -euo pipefail
cmd=${1:?up or down} dir=${2:?DIR}
nodes=${3:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
net=10.77.0 bridge=pbr0 lease=${POPLAR_LOCK_LEASE:-6}
mkdir -p "$dir"
chmod 755 "$dir"   # Postfix's unprivileged processes must reach their folders
dir=$(cd "$dir" && pwd)

host() {  # host NAME LAST_OCTET: a namespace with lo and eth0 on the bridge
  local ns=$1 ip=$net.$2 veth=v-${1#p-}
  echo "$ns" >> "$dir/namespaces"
  ip netns add "$ns"
  ip link add "$veth" type veth peer name eth0 netns "$ns"
  ip link set "$veth" master $bridge up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$ip/24" dev eth0
  ip -n "$ns" link set eth0 up
}

run() {  # run NS NAME CMD...: in the background inside NS, pid in DIR/NAME.pid, output in DIR/NAME.log
  local ns=$1 name=$2
  shift 2
  ip netns exec "$ns" "$@" > "$dir/$name.log" 2>&1 &
  echo $! > "$dir/$name.pid"
}

wait_tcp() {  # wait_tcp NS IP PORT
  for _ in $(seq 1 100); do
    if ip netns exec "$1" bash -c "(echo > /dev/tcp/$2/$3) 2>/dev/null"; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on $2:$3 in $1" >&2
  return 1
}

owner() {  # the DIR of the cluster that made the bridge
  ip -d link show $bridge 2>/dev/null | sed -n 's/^ *alias //p'
}

ours() {  # the p-* namespaces that exist now
  ip netns list | awk '$1 ~ /^p-/ {print $1}'
}

live_pids() {  # pids running in any p-* namespace
  local ns
  for ns in $(ours); do ip netns pids "$ns" 2>/dev/null || true; done
}

clear_the_way() {  # a cluster whose processes are all gone (its run was killed) is removed; a live one is waited for
  local waited=0 limit=${POPLAR_NETNS_WAIT:-1200} ns
  if ! [[ $limit =~ ^[0-9]+$ ]]; then echo "POPLAR_NETNS_WAIT=$limit: not a number of seconds" >&2; exit 2; fi
  while [ -n "$(live_pids)" ]; do
    if [ "$waited" -ge "$limit" ]; then
      echo "another cluster is up (owner $(owner), pids $(live_pids | tr '\n' ' ')): cluster.sh down DIR" >&2
      exit 1
    fi
    [ "$waited" -eq 0 ] && echo "another cluster is up; waiting up to ${limit} s for it to go" >&2
    sleep 5; waited=$((waited + 5))
  done
  if [ -n "$(ours)" ] || ip link show $bridge > /dev/null 2>&1; then
    echo "removing a dead cluster's namespaces and bridge (no process left in them)" >&2
    for ns in $(ours); do ip netns del "$ns" 2>/dev/null || true; done
    ip link del $bridge 2>/dev/null || true
    for _ in $(seq 1 100); do  # the kernel frees a deleted namespace's veth pairs a little later
      ip -o link show | grep -q ": v-" || break
      sleep 0.1
    done
  fi
}

up() {
  : "${POPLAR:?set POPLAR to the poplar binary}"
  clear_the_way
  ip link add $bridge type bridge
  ip link set $bridge alias "$dir"   # who owns it: down removes only its own bridge
  ip addr add $net.1/24 dev $bridge
  ip link set $bridge up
  host p-nas 10; host p-coord1 21; host p-coord2 22; host p-lb 5; host p-mta 6
  for i in $(seq 1 "$nodes"); do host "p-node$i" $((30 + i)); done

  # The NAS: ganesha in its namespace, listening on all of its addresses.
  mkdir -p "$dir/nas/export"
  GANESHA_ADDR=$net.10 ip netns exec p-nas bash "$here/nfs/start-ganesha.sh" "$dir/nas" "$dir/nas/export" 2049 20048 > /dev/null
  root="nfs://$net.10$dir/nas/export?nfsport=2049&mountport=20048"
  echo "$root" > "$dir/root"
  "$POPLAR" init --root "$root" --guid-file "$dir/guid" --kdf-rounds 1000 --lock-lease "$lease" > /dev/null
  "$POPLAR" domain add example.test --root "$root" --guid-file "$dir/guid" > /dev/null
  common=(--root "$root" --guid-file "$dir/guid")

  for c in 1 2; do
    run "p-coord$c" "coord$c" "$POPLAR" coordinator "${common[@]}" --coordinator-id "coord$c" --lmtp "$net.2$c:24" \
        --socketmap "$net.2$c:2526" --mta-networks "$net.0/24" --hostname "coord$c.poplar.test" --log-level notice
    wait_tcp "p-coord$c" "$net.2$c" 24
  done
  servers=()
  for i in $(seq 1 "$nodes"); do
    ip=$net.$((30 + i))
    run "p-node$i" "node$i" "$POPLAR" node "${common[@]}" --node-id "node$i" --listen "$ip:110" --http-listen "$ip:9110" \
        --http-allow "$net.0/24" --proxy-trusted "$net.5" --plaintext always --auth-failure-delay 0.2 --log-level notice
    wait_tcp "p-node$i" "$ip" 110
    servers+=("$ip:110:9110")
  done
  HAPROXY_INTER=500ms ip netns exec p-lb bash "$here/haproxy/start-haproxy.sh" "$dir/lb" "$net.5" 110 "${servers[@]}"
  ip netns exec p-mta bash "$here/postfix/start-postfix.sh" "$dir/mta" "$net.6:25" "$net.21:24,$net.22:24" "$net.21:2526" mx.poplar.test > /dev/null
  wait_tcp p-mta "$net.6" 25
  cat <<EOF
cluster up in $dir (lease $lease s)
  POP3 through HAProxy:   $net.5:110        mail in through Postfix: $net.6:25
  mail root:              $root
  admin:                  $POPLAR <command> --root '$root' --guid-file $dir/guid
  take it down:           $0 down $dir
EOF
}

down() {
  [ -f "$dir/mta/etc/main.cf" ] && ip netns exec p-mta postfix -c "$dir/mta/etc" stop > /dev/null 2>&1 || true
  for pidfile in "$dir"/*.pid "$dir"/lb/haproxy.pid "$dir"/nas/ganesha.pid "$dir"/nas/rpcbind.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(head -1 "$pidfile")
    kill "$pid" 2>/dev/null || true
  done
  sleep 2
  for pidfile in "$dir"/*.pid "$dir"/lb/haproxy.pid "$dir"/nas/ganesha.pid "$dir"/nas/rpcbind.pid; do
    [ -f "$pidfile" ] && kill -9 "$(head -1 "$pidfile")" 2>/dev/null || true
  done
  if [ -f "$dir/namespaces" ]; then
    while read -r ns; do ip netns del "$ns" 2>/dev/null || true; done < "$dir/namespaces"
    rm -f "$dir/namespaces"
  fi
  if [ "$(owner)" = "$dir" ]; then ip link del $bridge; fi
}

case $cmd in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down DIR [NODES]" >&2; exit 2 ;;
esac
