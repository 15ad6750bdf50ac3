#!/usr/bin/env python3
"""Poplar beside Dovecot: one command, both servers, the scenarios of issue 7, alternating, with repeats.

    python3 cluster/bench/pop3_bench.py --poplar .build-release/release/poplar            # ~15 minutes
    python3 cluster/bench/pop3_bench.py --poplar .build-release/release/poplar --quick    # ~4 minutes

Needs root (Dovecot drops to its own users; the mail files are owned by uid 5000) and Debian's dovecot-pop3d
and dovecot-lmtpd, which it installs with apt-get when they are missing (uvloop for the load generator too,
with pip, when it is missing; without it the plain asyncio loop is used). Everything listens on 127.0.0.1.

What it does:
1. Generates the seeded mail set once (cluster/bench/mailset.py; kept in --work for the next runs) and
   delivers it byte for byte into a Poplar root and a Dovecot maildir tree; the first time, one pass over every
   Dovecot mailbox builds Dovecot's index files (as a Dovecot in service has them) and verifies every message.
2. Starts Poplar (node + coordinator) and Dovecot (servers.py: its own config, base_dir, ports; every setting is
   printed), both pinned with taskset to --server-core; this script and the load generator are pinned to
   --load-core. Warms both: the login caches of the "hot" users, the page cache.
3. For each repeat, for each scenario, runs Poplar then Dovecot (the order flips on every repeat), with
   cluster/bench/loadgen.py (POP3) or cluster/bench/lmtp_rate.py (LMTP). Then the idle-connection scenario once
   per server.
4. Prints the table of Poplar / Dovecot ratios (median of the per-repeat ratios, [min–max]) and the goals of
   issue 7, then the absolute figures of every run; writes both, and the raw JSON, under --work/results.

The 2 cores are shared: compare ratios, not absolute figures, and look at the CPU milliseconds per session
(counted from /proc, so much less sensitive to other load on the machine than sessions per second).
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import loadgen  # noqa: E402
import lmtp_rate  # noqa: E402
import mailset  # noqa: E402
import servers  # noqa: E402


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- setup

def ensure_packages():
    need = []
    if not shutil.which("dovecot") or not os.path.exists("/usr/lib/dovecot/pop3"):
        need.append("dovecot-pop3d")
    if not os.path.exists("/usr/lib/dovecot/lmtp"):
        need.append("dovecot-lmtpd")
    if not shutil.which("openssl"):
        need.append("openssl")
    if not shutil.which("taskset"):
        need.append("util-linux")
    if not need:
        return
    log(f"installing {' '.join(need)} with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(["apt-get", "install", "-y", *need], env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", *need], env=env, check=True, capture_output=True)


def ensure_uvloop(allow_install):
    try:
        import uvloop  # noqa: F401
        return True
    except ImportError:
        pass
    if not allow_install:
        return False
    log("installing uvloop for the load generator (pip)")
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "uvloop"], capture_output=True, timeout=300)
    if r.returncode != 0:
        log("  uvloop not installed; the load generator uses the plain asyncio loop")
        return False
    return True


def ensure_cert(data):
    cert, key = os.path.join(data, "cert.pem"), os.path.join(data, "key.pem")
    if not (os.path.exists(cert) and os.path.exists(key)):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "3650", "-subj", "/CN=localhost"], check=True, capture_output=True)
    os.chmod(key, 0o644)  # Dovecot's master reads it as root; Poplar as root


# ---------------------------------------------------------------- running one measurement

class Bench:
    def __init__(self, args, data, run_dir):
        self.args = args
        self.data = data
        self.run_dir = run_dir
        self.results = []  # every measurement, raw

    def loadgen(self, server, port, users_file, script, *, first=0, count=None, concurrency=16, duration=5.0,
                once=False, tls="none", extra=(), pids=None, timeout=None, measure=True):
        cmd = ["taskset", "-c", str(self.args.load_core), sys.executable, os.path.join(HERE, "loadgen.py"),
               "--port", str(port), "--users", users_file, "--script", script, "--first-user", str(first),
               "--concurrency", str(concurrency), "--duration", str(duration), "--tls", tls, "--json", *extra]
        if count is not None:
            cmd += ["--user-count", str(count)]
        if once:
            cmd.append("--once")
        if not self.args.uvloop:
            cmd.append("--no-uvloop")
        if measure:
            for p in pids or server.pop3_pids():
                cmd += ["--server-pid", str(p)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout or duration + 300)
        if r.returncode != 0:
            raise RuntimeError(f"loadgen failed ({' '.join(cmd)}):\n{r.stderr[-3000:]}")
        return json.loads(r.stdout.strip().splitlines()[-1])

    def lmtp(self, server, clients, duration):
        pids = server.lmtp_pids()
        recipients = [f"lmtp{i}@{mailset.DOMAIN}" for i in range(1, clients + 1)]
        before_files = self.count_lmtp_files(server)
        cpu0 = loadgen.cpu_seconds(pids)
        pss0 = loadgen.pss_kb(pids)[0]
        cmd = ["taskset", "-c", str(self.args.load_core), sys.executable, os.path.join(HERE, "lmtp_rate.py"),
               "--port", str(server.lmtp_port), "--size", "10240", "--seconds", str(duration), "--clients", str(clients), "--json"]
        for r in recipients:
            cmd += ["--to", r]
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 120)
        elapsed = time.perf_counter() - t0
        if p.returncode != 0:
            raise RuntimeError(f"lmtp_rate failed: {p.stderr[-2000:]}")
        out = json.loads(p.stdout.strip().splitlines()[-1])
        cpu1 = loadgen.cpu_seconds(pids)
        out["server"] = {"cpu_s": cpu1 - cpu0, "cpu_pct": 100 * (cpu1 - cpu0) / elapsed,
                         "cpu_ms_per_delivery": 1000 * (cpu1 - cpu0) / out["deliveries"] if out["deliveries"] else None,
                         "pss_before_kb": pss0, "pss_after_kb": loadgen.pss_kb(pids)[0]}
        time.sleep(0.5)
        out["stored"] = self.count_lmtp_files(server) - before_files
        if out["stored"] != out["deliveries"]:
            out["errors"] = dict(out["errors"], **{"stored-count-differs": out["deliveries"] - out["stored"]})
        return out

    def count_lmtp_files(self, server):
        n = 0
        for i in range(1, 9):
            if server.name == "poplar":
                d = os.path.join(self.data, "poplar", mailset.DOMAIN, f"P3_lmtp{i}.mbx")
                n += sum(1 for f in os.listdir(d) if f.endswith(".eml"))
            else:
                md = os.path.join(self.data, "dovecot-mail", f"lmtp{i}", "Maildir")
                n += sum(len(os.listdir(os.path.join(md, s))) for s in ("new", "cur"))
        return n


def dovecot_first_warm(bench, a, data):
    """Once per generated mail set: build Dovecot's indexes (a Dovecot in service has them) and verify every
    message of every main mailbox byte for byte. Done on an instance that is then stopped, so no cache survives."""
    marker = os.path.join(data, "dovecot-warm.json")
    want_idle = a.idle
    state = {}
    if os.path.exists(marker):
        state = json.load(open(marker))
    need_main = not state.get("main")
    need_idle = state.get("idle", 0) < want_idle
    if not need_main and not need_idle:
        return
    log("first run on this mail set: Dovecot builds its index files (and every message is verified)")
    dv = servers.Dovecot(data, bench.run_dir, a.server_core, profile=a.dovecot_profile)
    dv.start()
    try:
        if need_main:
            for users, script in (("users-main.tsv", "retr-all"), ("users-big.tsv", "retr-one")):
                r = bench.loadgen(dv, dv.pop3_port, os.path.join(data, users), script, concurrency=8, duration=3600,
                                  once=True, measure=False, timeout=3600)
                log(f"  {users}: {r['sessions']} mailboxes, {r['verified']} messages verified, errors {r['errors'] or 'none'}")
                if r["errors"]:
                    raise SystemExit("Dovecot does not serve the mail set as delivered: " + json.dumps(r["error_samples"]))
            state["main"] = True
        if need_idle:
            r = bench.loadgen(dv, dv.pop3_port, os.path.join(data, "users-idle.tsv"), "login", first=0, count=want_idle,
                              concurrency=32, duration=3600, once=True, measure=False, timeout=3600)
            log(f"  idle mailboxes: {r['sessions']} opened, errors {r['errors'] or 'none'}")
            state["idle"] = want_idle
    finally:
        dv.stop()
    json.dump(state, open(marker, "w"))


# ---------------------------------------------------------------- the scenarios

def scenario_list(a):
    d = a.duration
    return [
        ("login", "login-only sessions/s (cache hit)"),
        ("login-miss", "login-only, cache-miss logins/s"),
        ("typical", f"typical session/s, {a.typical_concurrency} conc."),
        ("typical-hi", f"typical session/s, {a.typical_concurrency_high} conc."),
        ("retr-big", "RETR 10 MB, plain"),
        ("retr-big-tls", "RETR 10 MB, implicit TLS"),
        ("lmtp-1", "LMTP 10 KB, 1 client"),
        ("lmtp-8", "LMTP 10 KB, 8 clients"),
        ("typical-nfs", "typical session/s, Poplar over NFS"),
    ]


def run_one(bench, a, server, name, rep):
    data = bench.data
    main = os.path.join(data, "users-main.tsv")
    big = os.path.join(data, "users-big.tsv")
    if name == "login":
        return bench.loadgen(server, server.pop3_port, main, "login", count=a.hot, concurrency=a.login_concurrency, duration=a.duration)
    if name == "login-miss":
        first = a.hot + rep * a.miss_users
        return bench.loadgen(server, server.pop3_port, main, "login", first=first, count=a.miss_users, concurrency=8,
                             duration=600, once=True)
    if name in ("typical", "typical-nfs", "typical-hi"):
        concurrency = a.typical_concurrency_high if name == "typical-hi" else a.typical_concurrency
        return bench.loadgen(server, server.pop3_port, main, "typical", count=a.hot, concurrency=concurrency,
                             duration=a.duration)
    if name == "retr-big":
        return bench.loadgen(server, server.pop3_port, big, "retr-one", count=a.streams, concurrency=a.streams, duration=a.duration)
    if name == "retr-big-tls":
        return bench.loadgen(server, server.pop3s_port, big, "retr-one", count=a.streams, concurrency=a.streams,
                             duration=a.duration, tls="implicit")
    if name == "lmtp-1":
        return bench.lmtp(server, 1, a.duration)
    if name == "lmtp-8":
        return bench.lmtp(server, 8, a.duration)
    raise ValueError(name)


def metrics(name, r, a):
    """The figures of one run that the table compares."""
    m = {"errors": sum(r.get("errors", {}).values())}
    if name.startswith("lmtp"):
        m["rate"] = r["per_s"]
        m["p99_ms"] = r["p99_ms"]
        m["cpu_ms"] = r["server"]["cpu_ms_per_delivery"]
        m["server_pct"] = r["server"]["cpu_pct"]
        m["loadgen_pct"] = r["loadgen_cpu_pct"]
        return m
    s = r["server"]
    m["rate"] = r["sessions_per_s"]
    m["p50_ms"] = r["p50_ms"]
    m["p99_ms"] = r["p99_ms"]
    m["cpu_ms"] = s["cpu_ms_per_session"]
    m["server_pct"] = s["cpu_pct"]
    m["loadgen_pct"] = r["loadgen_cpu_pct"]
    if r["sessions"]:
        m["retained_kb_per_1k"] = (s["pss_after_kb"] - s["pss_before_kb"]) / r["sessions"] * 1000
    if name.startswith("retr-big"):
        m["mb_s"] = r["retr_mb_s"]
        m["growth_kb_per_stream"] = s["pss_growth_max_kb"] / a.streams
    return m


def ratio(p, d):
    if p is None or d is None or d == 0:
        return None
    return p / d


def fmt(x, digits=1):
    if x is None:
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.{digits}f}"


def spread(values):
    v = [x for x in values if x is not None]
    if not v:
        return "-"
    med = statistics.median(v)
    if len(v) == 1:
        return f"{med:.2f}"
    return f"{med:.2f} [{min(v):.2f}–{max(v):.2f}]"


def median_of(runs, key):
    v = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(v) if v else None


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--poplar", required=True, help="the poplar binary (a release build)")
    ap.add_argument("--work", default="/var/tmp/poplar-bench", help="mail set, servers' state, results")
    ap.add_argument("--quick", action="store_true", help="2 repeats of 3 s, 1,000 idle connections: under 5 minutes")
    ap.add_argument("--repeats", type=int)
    ap.add_argument("--duration", type=float, help="seconds per measurement")
    ap.add_argument("--idle", type=int, help="idle connections (default 10,000; --quick 1,000)")
    ap.add_argument("--hold", type=float, help="seconds the idle connections are held (default 15: more than one heartbeat period)")
    ap.add_argument("--scenarios", help="comma-separated subset of: login,login-miss,typical,typical-hi,retr-big,retr-big-tls,lmtp-1,lmtp-8,typical-nfs,idle")
    ap.add_argument("--dovecot-profile", choices=("tuned", "fast", "stock"), default="tuned")
    ap.add_argument("--server-core", type=int, default=1)
    ap.add_argument("--load-core", type=int, default=0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-install", action="store_true", help="do not apt-get/pip install anything")
    ap.add_argument("--no-uvloop", dest="uvloop_wanted", action="store_false")
    ap.add_argument("--typical-concurrency", type=int, default=16, help="concurrent typical sessions (default 16)")
    ap.add_argument("--typical-concurrency-high", type=int, default=48,
                    help="the typical sessions again at this concurrency (default 48); the goal compares each server at its best")
    ap.add_argument("--serve", action="store_true",
                    help="start and warm both servers, print their ports and pids as JSON, run until interrupted (for profiling by hand)")
    a = ap.parse_args()
    a.repeats = a.repeats or (2 if a.quick else 3)
    a.duration = a.duration or (3.0 if a.quick else 8.0)
    a.idle = a.idle if a.idle is not None else (1000 if a.quick else 10000)
    a.hold = a.hold if a.hold is not None else (5.0 if a.quick else 15.0)
    a.hot = 48 if a.quick else 128
    a.miss_users = 24 if a.quick else 64
    a.login_concurrency = 32
    a.streams = 4
    wanted = set((a.scenarios or "login,login-miss,typical,typical-hi,retr-big,retr-big-tls,lmtp-1,lmtp-8,typical-nfs,idle").split(","))
    if "typical-nfs" in wanted:
        wanted.add("typical")  # its ratio is to Poplar on local disk
    if a.hot + a.repeats * a.miss_users > 1000:
        raise SystemExit("too many repeats for the cache-miss users (1,000 mailboxes)")
    if os.geteuid() != 0:
        raise SystemExit("run as root (Dovecot and the uid 5000 mail files need it)")
    cores = sorted(os.sched_getaffinity(0))
    if a.server_core not in cores or a.load_core not in cores or a.server_core == a.load_core:
        raise SystemExit(f"--server-core and --load-core must be two different CPUs of {cores}")
    os.sched_setaffinity(0, {a.load_core})
    started = time.time()
    poplar = os.path.abspath(a.poplar)

    if not a.no_install:
        ensure_packages()
    a.uvloop = a.uvloop_wanted and ensure_uvloop(not a.no_install)
    work = os.path.abspath(a.work)
    data = os.path.join(work, "data")
    run_dir = os.path.join(work, "run")
    os.makedirs(run_dir, exist_ok=True)
    gen_args = argparse.Namespace(work=data, poplar=poplar, seed=a.seed, users=1000, per_user=20, big=8,
                                  big_size=10 * 1024 * 1024, idle=max(10000, a.idle), lmtp=8, force=False)
    mailset.generate(gen_args, log=log)
    ensure_cert(data)
    bench = Bench(a, data, run_dir)
    if "idle" not in wanted:
        a_idle = a.idle
        a.idle = 0
        dovecot_first_warm(bench, a, data)
        a.idle = a_idle
    else:
        dovecot_first_warm(bench, a, data)

    pop = servers.Poplar(poplar, data, run_dir, a.server_core)
    dv = servers.Dovecot(data, run_dir, a.server_core, profile=a.dovecot_profile)
    both = [pop, dv]
    pop_nfs = servers.PoplarNFS(poplar, data, run_dir, a.server_core) if "typical-nfs" in wanted else None
    raw = {"args": {k: v for k, v in vars(a).items()}, "runs": []}
    try:
        for s in both:
            s.start()
        if pop_nfs:
            pop_nfs.start()
        log(f"servers pinned to core {a.server_core}, load generator and this script to core {a.load_core}; "
            f"load generator loop: {'uvloop' if a.uvloop else 'asyncio'}")
        log(f"poplar: {pop.settings[0]}\n        {pop.settings[1]}")
        log(f"dovecot ({a.dovecot_profile}): {dv.conf}")
        # Warm: the hot users' login caches, the page cache, the big messages.
        for s in both:
            main = os.path.join(data, "users-main.tsv")
            bench.loadgen(s, s.pop3_port, main, "typical", count=a.hot, concurrency=16, duration=600, once=True, measure=False)
            bench.loadgen(s, s.pop3_port, os.path.join(data, "users-big.tsv"), "retr-one", concurrency=4, count=8,
                          duration=600, once=True, measure=False)
        if pop_nfs:
            bench.loadgen(pop_nfs, pop_nfs.pop3_port, os.path.join(data, "users-main.tsv"), "typical", count=a.hot,
                          concurrency=16, duration=600, once=True, measure=False)
        log(f"warm ({time.time() - started:.0f} s so far)")
        if a.serve:
            print(json.dumps({s.name: {"pop3": s.pop3_port, "pop3s": s.pop3s_port, "lmtp": s.lmtp_port,
                                        "pop3_pids": s.pop3_pids(), "lmtp_pids": s.lmtp_pids()} for s in both}), flush=True)
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
            return

        scen = [(n, t) for n, t in scenario_list(a) if n in wanted]
        per = {n: {"poplar": [], "dovecot": []} for n, _ in scen}
        for rep in range(a.repeats):
            order = both if rep % 2 == 0 else list(reversed(both))
            for name, _ in scen:
                line = []
                for s in ([pop_nfs] if name == "typical-nfs" else order):
                    r = run_one(bench, a, s, name, rep)
                    m = metrics(name, r, a)
                    per[name]["poplar" if s is pop_nfs else s.name].append(m)
                    raw["runs"].append({"scenario": name, "server": s.name, "repeat": rep, "result": r})
                    extra = f" {m['mb_s']:.0f} MB/s" if "mb_s" in m else ""
                    line.append(f"{s.name} {fmt(m['rate'])}/s{extra} cpu {fmt(m['cpu_ms'], 2)} ms"
                                + (f" ERR {r['errors']}" if m["errors"] else ""))
                log(f"[{rep + 1}/{a.repeats}] {name:13} " + " | ".join(line) + f"  ({time.time() - started:.0f} s)")

        idle = {}
        if "idle" in wanted and a.idle > 0:
            for s in both:
                log(f"idle: {a.idle} authenticated connections to {s.name} …")
                r = bench.loadgen(s, s.pop3_port, os.path.join(data, "users-idle.tsv"), "idle", count=a.idle,
                                  extra=("--hold", str(a.hold), "--ramp-concurrency", "64", "--timeout", "120"),
                                  duration=0, timeout=1800)
                idle[s.name] = r
                raw["runs"].append({"scenario": "idle", "server": s.name, "repeat": 0, "result": r})
                i = r["idle"]
                log(f"  {s.name}: {i['established']} held, {fmt(i['kb_per_conn'])} KB each, {i['hold_cpu_s']:.2f} s CPU "
                    f"in a {i['hold_s']:.0f} s hold, errors {r['errors'] or 'none'}  ({time.time() - started:.0f} s)")
                if s is dv:
                    # let the pop3 processes go before anything else runs
                    time.sleep(2)
    finally:
        for s in both + ([pop_nfs] if pop_nfs else []):
            try:
                s.stop()
            except Exception as e:  # noqa: BLE001
                log(f"stopping {s.name}: {e}")

    text = report(a, per, idle, pop, dv, scen, time.time() - started, pop_nfs)
    print(text)
    os.makedirs(os.path.join(work, "results"), exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with open(os.path.join(work, "results", f"{stamp}.txt"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(work, "results", f"{stamp}.json"), "w") as f:
        json.dump(raw, f, indent=1, default=str)
    log(f"written: {work}/results/{stamp}.txt and .json")


def report(a, per, idle, pop, dv, scen, elapsed, pop_nfs=None):
    L = []
    L.append(f"Poplar / Dovecot on 127.0.0.1 — servers pinned to core {a.server_core}, load generator to core {a.load_core} "
             f"(taskset); {a.repeats} repeats, order alternating; {a.duration:.0f} s per measurement; Dovecot profile "
             f"{a.dovecot_profile}; load generator {'uvloop' if a.uvloop else 'asyncio'}; {elapsed / 60:.1f} min")
    L.append("ratio = Poplar / Dovecot per repeat: median [min–max]. CPU ms = server CPU per session (or delivery), from /proc.")
    L.append("")
    head = f"{'scenario':34} {'metric':22} {'Poplar':>9} {'Dovecot':>9}  {'ratio P/D':22} {'goal':24} {'met':4}"
    L.append(head)
    L.append("-" * len(head))

    def row(label, metric, key, goal="", test=None, with_ratio=True, dovecot=True, against=None):
        P = per[label]["poplar"]
        D = per[against]["poplar"] if against else per[label]["dovecot"]
        rs = [ratio(p.get(key), d.get(key)) for p, d in zip(P, D)]
        med = statistics.median([x for x in rs if x is not None]) if any(x is not None for x in rs) else None
        met = "" if test is None or (with_ratio and med is None) else ("yes" if test(med, P, D) else "NO")
        digits = 2 if key == "cpu_ms" else 1
        d = fmt(median_of(D, key), digits) if dovecot else "n/a"
        return f"{metric:22} {fmt(median_of(P, key), digits):>9} {d:>9}  {spread(rs) if with_ratio else '':22} {goal:24} {met:4}"

    titles = dict(scen)
    for name, _ in scen:
        t = titles[name]
        if name == "login":
            L.append(f"{t:34} " + row(name, "sessions/s", "rate", "≥ 2× Dovecot", lambda m, P, D: m >= 2))
            L.append(f"{'':34} " + row(name, "server CPU ms/session", "cpu_ms", "≤ 1/3 Dovecot (issue 19)", lambda m, P, D: m <= 1 / 3))
            L.append(f"{'':34} " + row(name, "PSS kept KB/1k sess.", "retained_kb_per_1k", "(leak check, Poplar)",
                                        with_ratio=False, dovecot=False))
        elif name == "login-miss":
            L.append(f"{t:34} " + row(name, "logins/s", "rate", "(reported)"))
            L.append(f"{'':34} " + row(name, "server CPU ms/login", "cpu_ms"))
        elif name in ("typical", "typical-hi"):
            L.append(f"{t:34} " + row(name, "sessions/s", "rate"))
            L.append(f"{'':34} " + row(name, "p99 latency ms", "p99_ms", "≤ Dovecot's", lambda m, P, D: m <= 1))
            goal = ("≤ 1/3 Dovecot (issue 19)", lambda m, P, D: m <= 1 / 3) if name == "typical" else ()
            L.append(f"{'':34} " + row(name, "server CPU ms/session", "cpu_ms", *goal))
            if name == "typical" and "typical-hi" in per:
                # The goal: each server at the better of its two concurrencies, repeat by repeat.
                best = lambda runs_a, runs_b: [max(x["rate"], y["rate"]) for x, y in zip(runs_a, runs_b)]
                bp = best(per["typical"]["poplar"], per["typical-hi"]["poplar"])
                bd = best(per["typical"]["dovecot"], per["typical-hi"]["dovecot"])
                rs = [ratio(x, y) for x, y in zip(bp, bd)]
                med = statistics.median(rs) if rs else None
                L.append(f"{'typical session/s, each at its best':34} {'sessions/s':22} {fmt(statistics.median(bp) if bp else None):>9} "
                         f"{fmt(statistics.median(bd) if bd else None):>9}  {spread(rs):22} {'≥ 2× Dovecot':24} "
                         f"{'yes' if med is not None and med >= 2 else 'NO':4}")
        elif name.startswith("retr-big"):
            L.append(f"{t:34} " + row(name, "MB/s (4 streams)", "mb_s", "≥ Dovecot", lambda m, P, D: m >= 1))
            growth_ok = lambda m, P, D: (median_of(P, "growth_kb_per_stream") or 0) < 1024
            L.append(f"{'':34} " + row(name, "PSS growth KB/stream", "growth_kb_per_stream", "Poplar < 1 MB", growth_ok,
                                        with_ratio=False))
            L.append(f"{'':34} " + row(name, "server CPU ms/session", "cpu_ms"))
        elif name.startswith("lmtp"):
            L.append(f"{t:34} " + row(name, "deliveries/s", "rate", "≥ Dovecot", lambda m, P, D: m >= 1))
            L.append(f"{'':34} " + row(name, "server CPU ms/delivery", "cpu_ms"))
        elif name == "typical-nfs":
            L.append(f"{'(columns: NFS, local disk; ratio NFS/local)':34} "
                     + row(name, "sessions/s", "rate", "(reported)", against="typical"))
            L.append(f"{'':34} " + row(name, "p99 latency ms", "p99_ms", against="typical"))
            L.append(f"{'':34} " + row(name, "server CPU ms/session", "cpu_ms", "(node + ganesha)", against="typical"))
    if idle:
        p = idle.get("poplar", {}).get("idle", {})
        d = idle.get("dovecot", {}).get("idle", {})
        r = ratio(p.get("kb_per_conn"), d.get("kb_per_conn"))
        ok = p.get("established") == a.idle and p.get("alive_at_release") == a.idle and (p.get("kb_per_conn") or 1e9) <= 50
        L.append(f"{'idle authenticated connections':34} {'held (target ' + format(a.idle, ',') + ')':22} {p.get('alive_at_release', 0):>9,} "
                 f"{d.get('alive_at_release', 0):>9,}  {'':22} {'all held':24} {'yes' if p.get('alive_at_release') == a.idle else 'NO':4}")
        L.append(f"{'':34} {'PSS KB per connection':22} {fmt(p.get('kb_per_conn')):>9} {fmt(d.get('kb_per_conn')):>9}  "
                 f"{(f'{r:.3f}' if r is not None else '-'):22} {'≤ 50 KB':24} {'yes' if ok else 'NO':4}")
        L.append(f"{'':34} {'CPU s in the hold':22} {fmt(p.get('hold_cpu_s'), 2):>9} {fmt(d.get('hold_cpu_s'), 2):>9}  "
                 f"{'':22} {'(' + format(p.get('hold_s', 0), '.0f') + ' s hold)':24}")
    L.append("")
    L.append("Every run (median over repeats; P = Poplar, D = Dovecot): rate, p50/p99 ms, server CPU %, load generator CPU %, errors")
    for name, _ in scen:
        for sname in (("poplar",) if name == "typical-nfs" else ("poplar", "dovecot")):
            runs = per[name][sname]
            errs = sum(m["errors"] for m in runs)
            lg = median_of(runs, "loadgen_pct")
            L.append(f"  {name:13} {sname:8} rate {fmt(median_of(runs, 'rate')):>8}  p50 {fmt(median_of(runs, 'p50_ms')):>7}  "
                     f"p99 {fmt(median_of(runs, 'p99_ms')):>7}  server {fmt(median_of(runs, 'server_pct')):>4}%  "
                     f"loadgen {fmt(lg) if lg is not None else '-':>4}%  errors {errs}")
    if idle:
        for sname, r in idle.items():
            i = r["idle"]
            L.append(f"  idle          {sname:8} {i['established']:,} established in {i['ramp_s']:.0f} s"
                     f"{' (ramp stopped at the memory floor)' if i['mem_stop'] else ''}; PSS {i['pss_before_kb'] / 1024:.0f} → "
                     f"{i['pss_end_kb'] / 1024:.0f} MB over {i['procs_held']:,} processes; {i['alive_at_release']:,} open at release; "
                     f"errors {r['errors'] or 'none'}")
    L.append("")
    L.append("Poplar: poplar " + pop.settings[0])
    L.append("        poplar " + pop.settings[1])
    if pop_nfs:
        L.append("        poplar " + pop_nfs.settings[0] + "  (nfs-ganesha exporting the same mail root, pinned with it)")
    L.append(f"Dovecot {a.dovecot_profile} profile (servers.py writes it): " + "; ".join(
        x.strip() for x in dv.settings if x.strip() and not x.strip().startswith(("}", "inet_listener", "address", "port", "ssl_cert", "ssl_key", "args", "driver", "base_dir", "state_dir", "log_path", "info_log_path", "instance_name"))))
    return "\n".join(L)


if __name__ == "__main__":
    main()
