#!/usr/bin/env python3
"""The cluster-wide auth penalty (docs/security.md, "The auth penalty") with real processes: three `poplar node`
processes on one mail root behind a "load balancer" (each connection starts with a PROXY v1 header from
127.0.0.1, which the nodes trust, carrying the client's address), the failure delay at its default of 2 s.

Figures, as FIGURE lines: guesses answered per minute for one address spreading 60 connections over the three
nodes, with the penalty and without it; for 1,000 addresses guessing one account; and how long the account's
owner, from an address of their own, waits to log in while either attack runs. Started by Tests/run-tests;
prints PASS/FAIL per test and "N passed, N failed" last.
"""
import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_clients import DOMAIN, PW, Harness, Raw, run_suite  # noqa: E402

TEST_LIMIT = 240
MINUTE = 60.0

# The owner is never put in the attackers' queue, whose slots are 15 s apart during these attacks (the name's
# failures drive the spacing to pop3.auth-penalty-max): each of its logins is answered well inside one slot. Its
# check shares two cores with the attackers' PBKDF2 work, so a login may take a second or two under CI load (2.007 s
# was seen once against an earlier bound of 2 s): the bound is a third of a slot.
OWNER_WAIT_BOUND = 5


def attempt(port, source, user, password, timeout=90):
    """One login through the 'load balancer' from `source`: the first answer to PASS, or 'closed'."""
    try:
        c = Raw(port)
        c.sock.settimeout(timeout)
        c.sock.sendall(f"PROXY TCP4 {source} 127.0.0.1 40000 110\r\n".encode())
        if not (c.line() or "").startswith("+OK"):
            c.close()
            return "no greeting"
        c.cmd(f"USER {user}@{DOMAIN}")
        answer = c.cmd(f"PASS {password}") or "closed"
        if answer.startswith("+OK"):
            c.cmd("QUIT")
        c.close()
        return answer
    except OSError as e:
        return f"socket: {e}"


class Attack:
    """`threads` workers guessing for `seconds`; worker i uses node i % 3 and the sources `sources(i, round)`."""

    def __init__(self, nodes, threads, seconds, sources, user="alice"):
        self.nodes, self.threads, self.seconds, self.sources, self.user = nodes, threads, seconds, sources, user
        self.answers = []
        self.lock = threading.Lock()

    def worker(self, i, deadline):
        n = 0
        while time.time() < deadline:
            source = self.sources(i, n)
            # An attempt still waiting for its slot when the attack ends is given up (not counted as answered).
            answer = attempt(self.nodes[i % len(self.nodes)]["port"], source, self.user, f"guess-{i}-{n}",
                             timeout=max(1.0, deadline - time.time() + 3))
            with self.lock:
                self.answers.append((time.time(), source, answer))
            n += 1

    def run(self):
        deadline = time.time() + self.seconds
        workers = [threading.Thread(target=self.worker, args=(i, deadline), daemon=True) for i in range(self.threads)]
        for w in workers:
            w.start()
        return workers, deadline

    def checked(self):
        """Guesses the nodes checked and answered as wrong (not refused unchecked)."""
        return [a for a in self.answers if a[2].startswith("-ERR [AUTH]")]

    def refused(self):
        return [a for a in self.answers if a[2].startswith("-ERR [SYS/TEMP] too many failed logins")]


def owner_logs_in(port, source):
    t = time.time()
    answer = attempt(port, source, "alice", PW["alice"])
    return answer, time.time() - t


def attack_while_owner_logs_in(h, nodes, attack, after, first_owner_address):
    """Runs `attack`; `after` seconds in, the owner logs in once on each node from addresses of their own; then waits
    for the attack to end and stops the nodes. The owner's (answer, seconds) per node."""
    workers, _ = attack.run()
    time.sleep(after)
    owner = [owner_logs_in(node["port"], f"192.0.2.{first_owner_address + i}") for i, node in enumerate(nodes)]
    for w in workers:
        w.join()
    stop_nodes(h, nodes)
    return owner


def start_nodes(h, *extra):
    return [h.start_node("--proxy-trusted", "127.0.0.1", "--plaintext", "always", "--auth-failure-delay", "2", *extra, name=f"pen{i}") for i in range(3)]


def stop_nodes(h, nodes):
    for node in nodes:
        h.stop_node(node)


def clear_penalty(h):
    penalty = os.path.join(h.root, ".poplar", "penalty")
    for name in os.listdir(penalty) if os.path.isdir(penalty) else []:
        os.unlink(os.path.join(penalty, name))


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


@test
def one_address_sixty_connections_over_three_nodes(h):
    """One client address, 60 connections spread over three nodes, guessing alice's password for a minute: every
    check from that address waits for the address's next slot (2, 4, 8, then 15 s apart, the same slots on every
    node), so more connections buy no guesses; without the penalty the same attack gets one guess per connection
    per failure delay. The owner, from another address, logs in at once throughout."""
    nodes = start_nodes(h, "--auth-penalty-max", "0")
    baseline = Attack(nodes, 60, 10, lambda i, n: "198.51.100.7")
    workers, _ = baseline.run()
    for w in workers:
        w.join()
    stop_nodes(h, nodes)
    clear_penalty(h)
    per_minute_off = len(baseline.checked()) * MINUTE / baseline.seconds

    nodes = start_nodes(h)
    attack = Attack(nodes, 60, MINUTE, lambda i, n: "198.51.100.7")
    owner = attack_while_owner_logs_in(h, nodes, attack, 20, 10)
    checked, refused = attack.checked(), attack.refused()
    start = min(t for t, _, _ in attack.answers)
    burst = [a for a in checked if a[0] < start + 2.5]
    print(f"FIGURE one address, 60 connections over 3 nodes, 60 s: {len(checked)} guesses checked with the penalty "
          f"({len(burst)} of them answered in the first 2.5 s, before the address had a record; "
          f"{len(refused)} attempts refused unchecked), against {per_minute_off:.0f} per minute without it "
          f"({len(baseline.checked())} in {baseline.seconds:.0f} s)", flush=True)
    print(f"FIGURE the owner from another address during that attack: logged in after "
          f"{', '.join(f'{t:.2f} s' for _, t in owner)} (one login per node)", flush=True)
    assert all(a.startswith("+OK") for a, _ in owner), owner
    assert all(t < OWNER_WAIT_BOUND for _, t in owner), owner
    # After the first failures, one queue for the address on all three nodes: slots 2, 4, 8 then 15 s apart on
    # their grids, at most 8 in a minute.
    assert 1 <= len(checked) - len(burst) <= 8, (len(checked), len(burst))
    assert not [a for a in attack.answers if a[2].startswith("+OK")]
    assert per_minute_off > 10 * len(checked), (per_minute_off, len(checked))
    clear_penalty(h)


@test
def thousand_addresses_one_account(h):
    """1,000 addresses, one connection each over three nodes, guessing alice's password for 75 s: an address's
    first guesses are spaced by its own queue (15 s apart once the name has failed a few times); after three
    failures in a row on alice it joins alice's queue, which all such addresses share, so the rate falls to one
    guess per slot for the whole name. The owner, from an address of their own, logs in at once throughout."""
    nodes = start_nodes(h)
    addresses = [f"198.18.{k // 250}.{k % 250 + 1}" for k in range(1000)]
    threading.stack_size(256 * 1024)
    attack = Attack(nodes, 1000, 75, lambda i, n: addresses[i])
    owner = attack_while_owner_logs_in(h, nodes, attack, 45, 20)
    checked = attack.checked()
    start = min(t for t, _, _ in attack.answers)
    per_address = {}
    for _, source, _ in checked:
        per_address[source] = per_address.get(source, 0) + 1
    busiest = max(per_address.values())
    queued = sum(max(0, n - 3) for n in per_address.values())
    print(f"FIGURE 1,000 addresses against one account, one connection each over 3 nodes, 75 s: {len(checked)} guesses "
          f"checked from {len(per_address)} addresses (at most {busiest} from one address): "
          f"{len(checked) - queued} were addresses' first three, {queued} came through the name's shared queue; "
          f"{len(attack.refused())} attempts refused unchecked", flush=True)
    print(f"FIGURE the owner from another address during that attack: logged in after "
          f"{', '.join(f'{t:.2f} s' for _, t in owner)} (one login per node)", flush=True)
    assert all(a.startswith("+OK") for a, _ in owner), owner
    assert all(t < OWNER_WAIT_BOUND for _, t in owner), owner
    # An address checks at most three times before it joins the name's queue, then at most once per shared slot.
    assert busiest <= 6, busiest
    clear_penalty(h)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--poplar", required=True)
    ap.add_argument("-k", default="")
    args = ap.parse_args()
    h = Harness(os.path.abspath(args.poplar))
    return run_suite(h, TESTS, args.k, lambda: (lambda fn: fn(h)), TEST_LIMIT)


if __name__ == "__main__":
    sys.exit(main())
