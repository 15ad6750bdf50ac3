#!/usr/bin/env python3
"""What holding mailboxes costs the NAS, under each lock rule (docs/lock-protocol.md, "The node rule").

    python3 cluster/bench/lock_cost.py --poplar .build-release/release/poplar [--held 50] [--seconds 20]

Starts its own nfs-ganesha on 127.0.0.1, makes a mail root on the export (`poplar init`: the node rule, a 6-s
lease) with HELD mailboxes, and for each lock rule (`node`, then `lease` after `poplar cluster lock-rule lease`)
starts one node (registry update once a minute, so only the lock's calls are on the wire), counts the NFS calls on
the wire with tshark for SECONDS while the node holds no mailbox, then while HELD idle POP3 sessions each hold one.
Prints calls per second by procedure, the calls per held mailbox per minute, and what that makes at 100,000 held
mailboxes. Needs root (ganesha, tshark on lo). Everything stays on 127.0.0.1.
"""
import argparse
import os
import poplib
import signal
import subprocess
import tempfile
import time

from nfs_wire import count_calls, stop_ganesha
from servers import free_port, wait_port

HERE = os.path.dirname(os.path.abspath(__file__))
DOMAIN = "cost.test"


def per_second(seen, seconds):
    """(calls a second, beats a second: one READDIRPLUS of .poplar/live per beat, text)."""
    total = sum(seen.values()) / seconds
    detail = ", ".join(f"{n} {c / seconds:.1f}" for n, c in sorted(seen.items(), key=lambda kv: -kv[1]))
    return total, seen.get("READDIRPLUS", 0) / seconds, f"{total:7.1f} calls/s  ({detail})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--poplar", required=True)
    ap.add_argument("--held", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20)
    args = ap.parse_args()
    poplar = os.path.abspath(args.poplar)
    work = tempfile.mkdtemp(prefix="poplar-lockcost-")
    export = os.path.join(work, "export")
    guid = os.path.join(work, "guid")
    nfsport, mountport = free_port(), free_port()
    url = subprocess.run(["bash", os.path.join(HERE, "..", "nfs", "start-ganesha.sh"), work, export, str(nfsport), str(mountport)],
                         capture_output=True, text=True, check=True).stdout.strip()
    node = None
    try:
        def cli(*a, stdin=None):
            return subprocess.run([poplar, *a, "--root", url, "--guid-file", guid], input=stdin, capture_output=True, check=True,
                                  timeout=300).stdout.decode()
        cli("init", "--kdf-rounds", "1000")
        cli("domain", "add", DOMAIN)
        boxes = [f"h{i}" for i in range(args.held)]
        for b in boxes:
            cli("mailbox", "add", f"{b}@{DOMAIN}", "--password-stdin", stdin=b"pw\n")
        lease = open(os.path.join(export, ".poplar", "cluster")).read().split("lock-lease-ms=")[1].split()[0]
        print(f"NFS calls of one node on the wire, lease {int(lease) / 1000:g} s, {args.seconds:g} s per figure, "
              f"registry update once a minute:")
        rows = {}
        for rule in ("node", "lease"):
            cli("cluster", "lock-rule", rule, "--force")
            port = free_port()
            node = subprocess.Popen([poplar, "node", "--root", url, "--guid-file", guid, "--listen", f"127.0.0.1:{port}",
                                     "--node-id", f"cost-{rule}", "--log-level", "error", "--registry-interval", "60"])
            wait_port(port, 30)
            time.sleep(2)
            idle, beats, idle_text = per_second(count_calls(work, nfsport, f"{rule}-idle", lambda: time.sleep(args.seconds), settle=0.5, tail=False), args.seconds)
            sessions = []
            for b in boxes:
                p = poplib.POP3("127.0.0.1", port, timeout=30)
                p.user(f"{b}@{DOMAIN}")
                p.pass_("pw")
                sessions.append(p)
            held, _, held_text = per_second(count_calls(work, nfsport, f"{rule}-held", lambda: time.sleep(args.seconds), settle=0.5, tail=False), args.seconds)
            for p in sessions:
                p.quit()
            node.send_signal(signal.SIGTERM)
            node.wait(timeout=30)
            node = None
            per_box_minute = max(0.0, held - idle) / args.held * 60
            rows[rule] = (idle, beats, per_box_minute)
            print(f"  lock-rule {rule:5}  no mailbox held:      {idle_text}")
            print(f"  lock-rule {rule:5}  {args.held:3} mailboxes held:  {held_text}")
            print(f"  lock-rule {rule:5}  per held mailbox: {per_box_minute:.1f} calls a minute")
        # With N nodes each node also reads the N - 1 other liveness records at every beat: a LOOKUP and a READ each
        # (as its own record's read-back costs, measured above).
        print("At 100,000 held mailboxes on 20 nodes (each node's own calls, plus a LOOKUP and a READ of each of the 19")
        print("other nodes' liveness records per beat, plus the held mailboxes'):")
        for rule, (idle, beats, per_box_minute) in rows.items():
            per_node = idle + 19 * 2 * beats
            print(f"  lock-rule {rule:5}: {20 * per_node + 100_000 * per_box_minute / 60:9.0f} NFS calls a second "
                  f"({per_node:.0f} per node, {100_000 * per_box_minute / 60:.0f} for the held mailboxes)")
    finally:
        if node:
            node.kill()
        stop_ganesha(work)


if __name__ == "__main__":
    main()
