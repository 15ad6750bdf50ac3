#!/usr/bin/env python3
"""LMTP deliveries per second against a running coordinator: one or more clients, messages of a given size.

    python3 cluster/bench/lmtp_rate.py --port 1024 --to demo@poplar.test --size 10240 --seconds 10 --clients 1

Each message is a full transaction (MAIL, RCPT, DATA) on one kept-open connection per client; the coordinator
writes and fsyncs every copy before it answers 250. Prints deliveries/s and latency percentiles.
"""
import argparse
import smtplib
import threading
import time


def worker(args, body, stop_at, results):
    l = smtplib.LMTP(args.host, args.port, timeout=30)
    l.ehlo("bench")
    lat = []
    while time.time() < stop_at:
        t = time.perf_counter()
        l.sendmail("bench@load.test", [args.to], body)
        lat.append(time.perf_counter() - t)
    l.quit()
    results.append(lat)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--to", required=True)
    ap.add_argument("--size", type=int, default=10240)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", type=int, default=1)
    args = ap.parse_args()
    line = b"x" * 76 + b"\r\n"
    body = b"Subject: bench\r\n\r\n" + line * (args.size // len(line))
    results = []
    stop_at = time.time() + args.seconds
    threads = [threading.Thread(target=worker, args=(args, body, stop_at, results)) for _ in range(args.clients)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - start
    lat = sorted(x for r in results for x in r)
    n = len(lat)
    print(f"LMTP deliveries: {n} in {elapsed:.1f} s = {n / elapsed:.0f}/s with {args.clients} client(s), {len(body)} byte messages, fsync on")
    if n:
        print(f"latency p50 {lat[n // 2] * 1000:.1f} ms, p99 {lat[min(n - 1, int(n * 0.99))] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
