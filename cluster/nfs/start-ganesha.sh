#!/usr/bin/env bash
# Starts an rpcbind and an nfs-ganesha exporting EXPORT over NFSv3 on 127.0.0.1 (no dbus needed).
#   start-ganesha.sh DIR EXPORT NFS_PORT MOUNT_PORT
# Prints the root URL for Poplar: nfs://127.0.0.1/EXPORT?nfsport=NFS_PORT&mountport=MOUNT_PORT
# Stop with: kill $(cat DIR/ganesha.pid)   (rpcbind: kill $(cat DIR/rpcbind.pid) if this script started it)
set -euo pipefail
dir=$1 export=$2 nfsport=$3 mountport=$4
addr=${GANESHA_ADDR:-127.0.0.1}   # where it listens (another host's address inside a network namespace)
bind=${GANESHA_BIND-"Bind_addr = $addr;"}
mkdir -p "$dir/recovery" "$export"
# A live rpcbind answers rpcinfo (on its local socket, whatever the network namespace). pgrep is not enough: an
# rpcbind killed earlier can stay a zombie where PID 1 does not reap, and ganesha cannot register with a zombie.
if ! rpcinfo > /dev/null 2>&1; then
  rpcbind   # not -w: a warm start would bring back registrations of servers that are gone
  pgrep -n -x -r S,R,D rpcbind > "$dir/rpcbind.pid"
  for _ in $(seq 1 50); do rpcinfo > /dev/null 2>&1 && break; sleep 0.1; done
fi
sed -e "s|@DIR@|$dir|g" -e "s|@EXPORT@|$export|g" -e "s|@NFS_PORT@|$nfsport|g" -e "s|@MOUNT_PORT@|$mountport|g" \
    -e "s|@NLM_PORT@|$((nfsport + 1))|g" -e "s|@RQUOTA_PORT@|$((nfsport + 2))|g" -e "s|@BIND@|$bind|g" \
    "$(dirname "$0")/ganesha.conf.in" > "$dir/ganesha.conf"
# ganesha keeps a file descriptor per file it served (its FD cache; ganesha.conf.in reaps it early): give it
# what room the system allows.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
ganesha.nfsd -f "$dir/ganesha.conf" -L "$dir/ganesha.log" -p "$dir/ganesha.pid" -N NIV_EVENT
for _ in $(seq 1 150); do
  if (echo > /dev/tcp/"$addr"/"$nfsport") 2>/dev/null; then
    echo "nfs://$addr$export?nfsport=$nfsport&mountport=$mountport"
    exit 0
  fi
  sleep 0.1
done
echo "ganesha did not start; the end of $dir/ganesha.log:" >&2
grep -vE 'DBUS|krb5|keytab' "$dir/ganesha.log" 2>/dev/null | tail -5 >&2
exit 1
