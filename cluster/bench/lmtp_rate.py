#!/usr/bin/env python3
"""LMTP deliveries per second against a running LMTP server (Poplar's coordinator, or any other): one or more
clients, messages of a given size.

    python3 cluster/bench/lmtp_rate.py --port 1024 --to demo@poplar.test --size 10240 --seconds 10 --clients 1

Each message is a full transaction (MAIL, RCPT, DATA) on one kept-open connection per client; the server
writes (and, for Poplar, fsyncs) every copy before it answers 250. With several --to, client i delivers to
recipient i modulo their number (cluster/bench/pop3_bench.py gives each client its own mailbox, so that no
server is slowed by writers sharing one mailbox). Prints deliveries/s and latency percentiles (--json: one
JSON object). A refused transaction is counted as an error, not as a delivery.
"""
import argparse
import collections
import json
import resource
import smtplib
import threading
import time


def worker(host, port, to, body, stop_at, results, errors):
    lat = []
    try:
        l = smtplib.LMTP(host, port, timeout=30)
        l.ehlo("bench")
        while time.time() < stop_at:
            t = time.perf_counter()
            try:
                refused = l.sendmail("bench@load.test", [to], body)
            except smtplib.SMTPException as e:
                errors[type(e).__name__] += 1
                continue
            if refused:
                errors["refused"] += 1
                continue
            lat.append(time.perf_counter() - t)
        l.quit()
    except OSError as e:
        errors[f"os:{type(e).__name__}"] += 1
    results.append(lat)


def make_body(size):
    line = b"x" * 76 + b"\r\n"
    return b"Subject: bench\r\n\r\n" + line * (size // len(line))


def run(host, port, recipients, size=10240, seconds=10.0, clients=1):
    body = make_body(size)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    results = []
    errors = collections.Counter()
    stop_at = time.time() + seconds
    threads = [threading.Thread(target=worker, args=(host, port, recipients[i % len(recipients)], body, stop_at, results, errors))
               for i in range(clients)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - start
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime
    lat = sorted(x for r in results for x in r)
    n = len(lat)
    return {
        "loadgen_cpu_s": cpu, "loadgen_cpu_pct": 100 * cpu / elapsed if elapsed else 0,
        "deliveries": n, "elapsed_s": elapsed, "per_s": n / elapsed if elapsed else 0, "clients": clients,
        "message_bytes": len(body), "errors": dict(errors),
        "p50_ms": lat[n // 2] * 1000 if n else None, "p99_ms": lat[min(n - 1, int(n * 0.99))] * 1000 if n else None,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--to", required=True, action="append", help="recipient; repeat for one per client")
    ap.add_argument("--size", type=int, default=10240)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    r = run(args.host, args.port, args.to, args.size, args.seconds, args.clients)
    if args.json:
        print(json.dumps(r))
        return
    print(f"LMTP deliveries: {r['deliveries']} in {r['elapsed_s']:.1f} s = {r['per_s']:.0f}/s with {args.clients} client(s), "
          f"{r['message_bytes']} byte messages")
    if r["deliveries"]:
        print(f"latency p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms")
    if r["errors"]:
        print(f"errors: {r['errors']}")


if __name__ == "__main__":
    main()
