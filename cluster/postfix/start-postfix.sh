#!/usr/bin/env bash
# Starts a private Postfix instance in front of a Poplar coordinator.
#   start-postfix.sh DIR SMTP_ADDR LMTP_ADDR SOCKETMAP_ADDR [HOSTNAME]
# e.g. start-postfix.sh /var/lib/poplar-postfix 127.0.0.1:2525 127.0.0.1:24 127.0.0.1:2526
# LMTP_ADDR may list several coordinators, comma-separated (active and standby): Postfix (3.5 and later) tries
# them in order, and a standby answers 421, so mail goes to whichever holds the coordinators' lease.
# Stop it with: postfix -c DIR/etc stop
set -euo pipefail
dir=$1 smtp=$2 lmtp=$3 socketmap=$4 host=${5:-mx.poplar.test}
here=$(cd "$(dirname "$0")" && pwd)
lmtp=${lmtp//,/, }
mkdir -p "$dir/etc" "$dir/queue" "$dir/data"
sed -e "s|@DIR@|$dir|g" -e "s|@HOSTNAME@|$host|g" -e "s|@SOCKETMAP@|$socketmap|g" -e "s|@LMTP@|$lmtp|g" \
    "$here/main.cf.in" > "$dir/etc/main.cf"
sed -e "s|@SMTP@|$smtp|g" "$here/master.cf.in" > "$dir/etc/master.cf"
chown postfix "$dir/data"
postfix -c "$dir/etc" set-permissions >/dev/null 2>&1 || true
postfix -c "$dir/etc" check
postfix -c "$dir/etc" start
