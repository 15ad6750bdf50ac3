"""NFSv3 calls seen on the wire (tshark on lo), by procedure, for the benchmark scripts that count what Poplar asks
of the NAS (nfs_figures.py, lock_cost.py), and the teardown of the ganesha they start."""
import os
import signal
import subprocess
import time

NFS3_PROCEDURES = {0: "NULL", 1: "GETATTR", 2: "SETATTR", 3: "LOOKUP", 4: "ACCESS", 6: "READ", 7: "WRITE", 8: "CREATE",
                   9: "MKDIR", 12: "REMOVE", 13: "RMDIR", 14: "RENAME", 15: "LINK", 16: "READDIR", 17: "READDIRPLUS",
                   18: "FSSTAT", 19: "FSINFO", 20: "PATHCONF", 21: "COMMIT"}


def count_calls(work, nfsport, tag, run, before=None, settle=1.0, tail=True):
    """NFS calls on the wire while run() runs, by procedure; before() runs first, uncounted. With `tail`, calls in
    the `settle` seconds after run() count too (a session's last calls may follow the client's QUIT); without, only
    those issued while run() ran (a window of time)."""
    cap = os.path.join(work, f"{tag}.pcap")
    tshark = subprocess.Popen(["tshark", "-q", "-i", "lo", "-f", f"tcp port {nfsport}", "-w", cap],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2)
    if before:
        before()
    t0 = time.time()
    run()
    t1 = float("inf") if tail else time.time()
    time.sleep(settle)
    tshark.send_signal(signal.SIGINT)
    tshark.wait(timeout=30)
    out = subprocess.run(["tshark", "-r", cap, "-d", f"tcp.port=={nfsport},rpc", "-Y", "rpc.msgtyp == 0",
                          "-T", "fields", "-e", "frame.time_epoch", "-e", "nfs.procedure_v3"],
                         capture_output=True, text=True).stdout
    seen = {}
    for line in out.splitlines():
        fields = line.split("\t")
        if len(fields) < 2 or not (t0 <= float(fields[0]) < t1):
            continue
        for proc in fields[1].split(","):
            name = NFS3_PROCEDURES.get(int(proc), proc)
            seen[name] = seen.get(name, 0) + 1
    return seen


def stop_ganesha(work):
    """Stops the ganesha that cluster/nfs/start-ganesha.sh started in `work`, and removes `work`."""
    import shutil
    try:
        os.kill(int(open(os.path.join(work, "ganesha.pid")).read()), signal.SIGTERM)
    except (OSError, ValueError):
        pass
    time.sleep(2)
    shutil.rmtree(work, ignore_errors=True)
