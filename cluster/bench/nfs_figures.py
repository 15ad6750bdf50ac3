#!/usr/bin/env python3
"""Figures for the NFS volume, side by side with the POSIX volume on the same files.

    python3 cluster/bench/nfs_figures.py --poplar .build-release/release/poplar

Starts its own nfs-ganesha on 127.0.0.1 (cluster/nfs/start-ganesha.sh), makes a mail root on the export with
mailboxes of 10, 1,000 and 10,000 messages and one 10 MB message, and prints:
- NFS calls per POP3 session (USER/PASS, STAT, UIDL, QUIT), counted on the wire with tshark, and how many of
  them are READDIRPLUS;
- login + STAT time on each mailbox over NFS and over the POSIX volume (the export's own directory);
- RETR of the 10 MB message, MB/s, over NFS and over POSIX;
- the access journal's cost: NFS calls and node CPU per session with `pop3.access-journal` on and off.
Needs root (ganesha, tshark on lo). Everything stays on 127.0.0.1.
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
DOMAIN = "bench.test"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--poplar", required=True)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    poplar = os.path.abspath(args.poplar)
    work = tempfile.mkdtemp(prefix="poplar-nfsbench-")
    export = os.path.join(work, "export")
    guid = os.path.join(work, "guid")
    nfsport, mountport = free_port(), free_port()
    start = [os.path.join(HERE, "..", "nfs", "start-ganesha.sh"), work, export, str(nfsport), str(mountport)]
    url = subprocess.run(["bash", *start], capture_output=True, text=True, check=True).stdout.strip()
    procs = []
    try:
        def cli(*a, stdin=None):
            subprocess.run([poplar, *a, "--root", url, "--guid-file", guid], input=stdin, capture_output=True, check=True, timeout=300)
        cli("init", "--kdf-rounds", "1000")
        cli("domain", "add", DOMAIN)
        sizes = {"m10": 10, "m1000": 1000, "m10000": 10000, "big": 0}
        for box in sizes:
            cli("mailbox", "add", f"{box}@{DOMAIN}", "--password-stdin", stdin=b"pw\n")
        # Messages are written straight into the export (fast), then ganesha is restarted so it sees them cold.
        body = (b"Subject: bench\r\n\r\n" + b"x" * 70 + b"\r\n") * 28
        for box, n in sizes.items():
            d = os.path.join(export, DOMAIN, f"P3_{box}.mbx")
            for i in range(n):
                with open(os.path.join(d, "P3_20260101000000000%05d%04d.eml" % (i // 10000, i % 10000)), "wb") as f:
                    f.write(body)
        with open(os.path.join(export, DOMAIN, "P3_big.mbx", "P3_20260101000000000000010000.eml"), "wb") as f:
            line = b"y" * 998 + b"\r\n"
            f.write(line * (10 * 1024 * 1024 // len(line)))
        os.kill(int(open(os.path.join(work, "ganesha.pid")).read()), signal.SIGTERM)
        time.sleep(2.5)
        subprocess.run(["bash", *start], capture_output=True, check=True)

        nodes = {}
        pids = {}
        nojournal = os.path.join(work, "nojournal.json")
        with open(nojournal, "w") as f:
            f.write('{"pop3": {"access-journal": false}}')
        for label, root, extra in (("NFS", url, []), ("POSIX", export, []), ("NFS-nojournal", url, ["--config", nojournal])):
            port = free_port()
            p = subprocess.Popen([poplar, "node", "--root", root, "--guid-file", guid, "--listen", f"127.0.0.1:{port}",
                                  "--node-id", label.lower(), "--log-level", "error", "--registry-interval", "60", *extra])
            procs.append(p)
            wait_port(port, 30)
            nodes[label] = port
            pids[label] = p.pid

        def session(port, box):
            t = time.perf_counter()
            p = poplib.POP3("127.0.0.1", port, timeout=60)
            p.user(f"{box}@{DOMAIN}")
            p.pass_("pw")
            count = p.stat()[0]
            login_stat = time.perf_counter() - t
            p.uidl()
            p.quit()
            return count, login_stat

        print("NFS calls per session (USER/PASS + STAT + UIDL + QUIT), counted on the wire (the node's registry update")
        print("is set to once a minute, so only the session's own calls are on the wire):")
        print("  cold:  the node's first session on that mailbox (it looks the directories up and caches their handles)")
        print("  alone: a later session, more than 1 s after the node's last one (it reads the domain metabase)")
        print("  busy:  a later session right after another one on the node (it knows the domain is accepted)")
        def describe(seen):
            calls = sum(seen.values())
            rdp = seen.get("READDIRPLUS", 0)
            detail = ", ".join(f"{n} {c}" for n, c in sorted(seen.items(), key=lambda kv: -kv[1]))
            return f"{calls:3} calls, {calls - rdp:3} besides {rdp} READDIRPLUS  ({detail})"

        for box in ("m10", "m1000", "m10000"):
            for label in ("cold", "alone", "busy"):
                seen = count_calls(work, nfsport, f"{box}-{label}", lambda box=box: session(nodes["NFS"], box),
                                   before=(lambda box=box: session(nodes["NFS"], box)) if label == "busy" else None)
                print(f"  {sizes[box]:>6} messages, {label:>5}: {describe(seen)}")

        print("The access journal (pop3.access-journal), a busy session on the 10-message mailbox, journal on and off:")
        for label in ("NFS", "NFS-nojournal"):
            session(nodes[label], "m10")  # warm: handles cached, domain known
            seen = count_calls(work, nfsport, f"journal-{label}", lambda label=label: session(nodes[label], "m10"),
                               before=lambda label=label: session(nodes[label], "m10"))
            print(f"  journal {'on ' if label == 'NFS' else 'off'}: {describe(seen)}")

        def cpu_seconds(pid):
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        n_sessions = 200
        print(f"Node CPU per session over NFS ({n_sessions} sessions in a row on the 10-message mailbox, best of {args.repeats}):")
        for label in ("NFS", "NFS-nojournal"):
            best = None
            for _ in range(args.repeats):
                c0 = cpu_seconds(pids[label])
                for _ in range(n_sessions):
                    session(nodes[label], "m10")
                used = (cpu_seconds(pids[label]) - c0) / n_sessions
                best = used if best is None else min(best, used)
            print(f"  journal {'on ' if label == 'NFS' else 'off'}: {best * 1000:6.2f} ms")

        print(f"login + STAT (best of {args.repeats}):")
        for box in ("m10", "m1000", "m10000"):
            row = []
            for label in ("NFS", "POSIX"):
                best = min(session(nodes[label], box)[1] for _ in range(args.repeats))
                row.append(f"{label} {best * 1000:7.1f} ms")
            print(f"  {sizes[box]:>6} messages: " + "   ".join(row))

        print(f"RETR of one 10 MB message (best of {args.repeats}):")
        for label in ("NFS", "POSIX"):
            best = None
            for _ in range(args.repeats):
                p = poplib.POP3("127.0.0.1", nodes[label], timeout=120)
                p.user(f"big@{DOMAIN}")
                p.pass_("pw")
                t = time.perf_counter()
                _, lines, octets = p.retr(1)
                dt = time.perf_counter() - t
                p.quit()
                best = dt if best is None else min(best, dt)
            print(f"  {label:>5}: {octets / best / 1e6:7.1f} MB/s ({best * 1000:.0f} ms)")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        stop_ganesha(work)


if __name__ == "__main__":
    main()
