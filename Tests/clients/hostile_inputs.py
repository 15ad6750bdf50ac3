#!/usr/bin/env python3
"""Hostile input against real `poplar node` and `poplar coordinator` processes on 127.0.0.1.

Started by Tests/run-tests:  python3 Tests/clients/hostile_inputs.py --poplar PATH [-k SUBSTRING]

Each case drives real sockets (or the CLI, or openssl s_client), prints what it sent and what came back, and the
resident memory (VmRSS, sampled every 100 ms in a thread) of the process under attack before, at its peak during,
and after the case; then PASS/FAIL. The last line is "N passed, N failed"; the exit code is 1 if any failed.
The harness (store, GUID, domain, mailboxes, certificate, how a node and a coordinator are started and stopped)
is run_clients.py's. Every wait is bounded, every socket has a timeout, every process started here is stopped here.
The binary is copied into the run's directory first, so a rebuild in the middle of a run cannot change it.
"""
import argparse
import glob
import os
import poplib
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_clients as rc  # noqa: E402  (same folder: Harness, free_port, start_coordinator, ...)
from run_clients import DOMAIN, PW, Harness, free_port, insecure_context, stop, wait_port  # noqa: E402

MIB = 1 << 20
MEM_LIMIT = 16 * MIB          # growth over the baseline a flood may cause
ABORT_GROWTH = 4 * MEM_LIMIT   # a flood stops early once the target grew this much: already a clear FAIL (and it
                              # spares the machine and the time budget)
FLOOD_BYTES = 200 * MIB       # at most this much is offered per flood
FLOOD_SECONDS = 12.0          # ... or for this long
FLOOD_STALL = 2.5             # ... or until the kernel has accepted nothing for this long (back-pressure works)
AFTER_WAIT = 2.0              # seconds between closing the flood socket and the "after" reading
CASE_LIMIT = 90               # seconds for one case, its clients and processes included (SIGALRM)

# Mailboxes of this suite, besides run_clients' alice/bob/carol/dave.
# (Not added to run_clients.PW: its Harness.setup makes a mailbox, with sample messages, for each entry there.)
EXTRA = {"floodlist": "flood-pw", "flooduidl": "flood-pw", "floodretr": "flood-pw", "smug": "smug-pw", "dup": "dup-pw"}
PASSWORDS = {**PW, **EXTRA}


# --------------------------------------------------------------------------------------------------- measuring
def rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


class Sampler(threading.Thread):
    """VmRSS of one process every 100 ms: before (at start), peak, now."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.before = rss_bytes(pid)
        self.peak = self.before or 0
        self._halt = threading.Event()

    def run(self):
        while not self._halt.wait(0.1):
            r = rss_bytes(self.pid)
            if r is not None and r > self.peak:
                self.peak = r

    def growth(self):
        return self.peak - (self.before or 0)

    def rebase(self):
        """The baseline is now: the attack starts here (after connecting, logging in, a greeting's allocations)."""
        self.before = rss_bytes(self.pid)
        self.peak = self.before or 0

    def stop(self):
        self._halt.set()
        self.join(2)


def mib(b):
    return "-" if b is None else f"{b / MIB:.1f}"


def short(x, n=60):
    if isinstance(x, bytes):
        x = x.decode("latin-1")
    x = repr(x)[1:-1] if x else ""
    return x if len(x) <= n else x[: n - 3] + "..."


# --------------------------------------------------------------------------------------------------- a case's record
class Rec:
    def __init__(self, name):
        self.name = name
        self.sent = ""
        self.first = ""
        self.last = ""
        self.checks = []       # (ok, text)
        self.info = []
        self.sampler = None
        self.after = None

    def send_note(self, text):
        self.sent = text

    def got(self, lines):
        """Reply lines (str or bytes); keeps the first and the last."""
        lines = [l for l in lines if l is not None]
        if lines:
            if not self.first:
                self.first = short(lines[0], 70)
            self.last = short(lines[-1], 70)

    def note(self, text):
        self.info.append(text)
        print(f"    {text}", flush=True)

    def check(self, ok, text):
        self.checks.append((bool(ok), text))
        print(f"    [{'ok' if ok else 'FAIL'}] {text}", flush=True)
        return ok

    def mark_after(self):
        if self.sampler:
            self.after = rss_bytes(self.sampler.pid)

    def mem_check(self, limit=MEM_LIMIT):
        s = self.sampler
        return self.check(s.growth() <= limit, f"peak RSS growth {mib(s.growth())} MiB <= {limit // MIB} MiB "
                                               f"(before {mib(s.before)}, peak {mib(s.peak)}, after {mib(self.after)})")


# --------------------------------------------------------------------------------------------------- clients
class Line:
    """A line client with timeouts; str lines (latin-1), None on EOF."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def line(self, timeout=10):
        self.sock.settimeout(timeout)
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("latin-1")

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode("latin-1"))

    def cmd(self, text, timeout=10):
        self.send((text.encode("latin-1") if isinstance(text, str) else text) + b"\r\n")
        return self.line(timeout)

    def reply(self, timeout=10):
        """An SMTP/LMTP reply: (code or None, [lines])."""
        lines = []
        while True:
            l = self.line(timeout)
            if l is None:
                return (None, lines)
            lines.append(l)
            if len(l) < 4 or l[3] != "-":
                code = int(l[:3]) if l[:3].isdigit() else None
                return (code, lines)

    def smtp(self, text, timeout=10):
        self.send((text.encode("latin-1") if isinstance(text, str) else text) + b"\r\n")
        return self.reply(timeout)

    def multiline(self, timeout=10):
        out = []
        while True:
            l = self.line(timeout)
            if l is None or l == ".":
                return out
            out.append(l[1:] if l.startswith(".") else l)

    def closed(self, timeout=5):
        """True if the peer closes (EOF/reset) within timeout; whatever arrived meanwhile is in self.buf."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.time()))
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                return True
            except socket.timeout:
                return False
            except OSError:
                return True
            if not chunk:
                return True
            self.buf += chunk
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def pop_login(port, user):
    c = Line(port)
    g = c.line()
    assert g and g.startswith("+OK"), f"greeting {g!r}"
    r = c.cmd(f"USER {user}@{DOMAIN}")
    assert r and r.startswith("+OK"), f"USER: {r!r}"
    r = c.cmd(f"PASS {PASSWORDS[user]}")
    assert r and r.startswith("+OK"), f"PASS: {r!r}"
    return c


def poplib_session_ok(port, user="carol"):
    """A normal client still gets a normal session (poplib): (ok, text)."""
    try:
        p = poplib.POP3("127.0.0.1", port, timeout=10)
        p.user(f"{user}@{DOMAIN}")
        p.pass_(PASSWORDS[user])
        count, size = p.stat()
        p.quit()
        return True, f"poplib login {user}: STAT {count} {size}"
    except Exception as e:
        return False, f"poplib login {user}: {type(e).__name__}: {e}"


def smtp_session_ok(port, lmtp=False):
    try:
        c = Line(port)
        code, g = c.reply()
        if code != 220:
            return False, f"greeting {g}"
        code, r = c.smtp("LHLO check" if lmtp else "EHLO check")
        if code != 250:
            return False, f"{'LHLO' if lmtp else 'EHLO'}: {r}"
        code, r = c.smtp("QUIT")
        c.close()
        return code == 221, f"new session: 220, 250, QUIT {code}"
    except Exception as e:
        return False, f"new session: {type(e).__name__}: {e}"


def netstring(payload):
    p = payload.encode() if isinstance(payload, str) else payload
    return str(len(p)).encode() + b":" + p + b","


def socketmap_ok(port):
    try:
        c = Line(port)
        c.send(netstring(f"domains {DOMAIN}"))
        c.sock.settimeout(5)
        want = netstring(f"OK {DOMAIN}")
        while len(c.buf) < len(want):
            chunk = c.sock.recv(4096)
            if not chunk:
                break
            c.buf += chunk
        c.close()
        return c.buf == want, f"new socketmap request: {c.buf[:60]!r}"
    except Exception as e:
        return False, f"new socketmap request: {type(e).__name__}: {e}"


def drain(sock, limit=1 << 20, seconds=0.5):
    """Whatever the peer has sent (non-blocking, bounded), for the report."""
    got = b""
    deadline = time.time() + seconds
    sock.setblocking(False)
    while len(got) < limit and time.time() < deadline:
        r, _, _ = select.select([sock], [], [], 0.1)
        if not r:
            continue
        try:
            chunk = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            break
        if not chunk:
            break
        got += chunk
    return got


def flood(sock, unit, sampler, max_bytes=FLOOD_BYTES, max_seconds=FLOOD_SECONDS, stall=FLOOD_STALL):
    """Send `unit` over and over without reading, whole units only. Stops at max_bytes, max_seconds, when the
    kernel has accepted nothing for `stall` seconds, when the peer closes, or when the target's RSS grew by
    ABORT_GROWTH. Returns (bytes sent, why it stopped, seconds)."""
    chunk = unit * max(1, 65536 // len(unit))
    view = memoryview(chunk)
    off = sent = 0
    sock.setblocking(False)
    start = last = time.time()
    why = ""
    while True:
        now = time.time()
        if sent >= max_bytes:
            why = f"{max_bytes // MIB} MiB offered"
        elif now - start > max_seconds:
            why = f"{max_seconds:.0f} s elapsed"
        elif now - last > stall:
            why = f"kernel accepted nothing for {stall} s (back-pressure)"
        elif sampler is not None and sampler.growth() > ABORT_GROWTH:
            why = f"aborted: target RSS grew > {ABORT_GROWTH // MIB} MiB"
        if why:
            break
        _, w, _ = select.select([], [sock], [], 0.2)
        if not w:
            continue
        try:
            n = sock.send(view[off:])
        except (BlockingIOError, InterruptedError):
            continue
        except (BrokenPipeError, ConnectionResetError, OSError) as e:
            why = f"peer closed ({type(e).__name__})"
            break
        sent += n
        off = (off + n) % len(chunk)
        last = time.time()
    return sent, why, time.time() - start


def mbox_count(h, user):
    return len(glob.glob(os.path.join(h.root, DOMAIN, f"P3_{user}.mbx", "P3_*.eml")))


def settled_count(h, user, seconds=2.0):
    """The message count once it has not changed for 0.5 s (bounded)."""
    deadline = time.time() + seconds
    last, since = mbox_count(h, user), time.time()
    while time.time() < deadline:
        time.sleep(0.1)
        c = mbox_count(h, user)
        if c != last:
            last, since = c, time.time()
        elif time.time() - since >= 0.5:
            break
    return last


# --------------------------------------------------------------------------------------------------- processes
class Ctx:
    """The node and coordinator the cases attack; a dead one is replaced before the next case."""

    def __init__(self, h):
        self.h = h
        self._node = None
        self._coord = None

    def node(self):
        if self._node is None or self._node["proc"].poll() is not None:
            if self._node is not None:
                print(f"    (node exited with {self._node['proc'].returncode}; starting a new one)", flush=True)
                self.h.stop_node(self._node)
            self._node = self.h.start_node(name=f"hostile{len(glob.glob(os.path.join(self.h.dir, 'hostile*.log')))}")
        return self._node

    def coord(self):
        c = self._coord
        if c is None or c["proc"].poll() is not None:
            if c is not None:
                print(f"    (coordinator exited with {c['proc'].returncode}; starting a new one)", flush=True)
            t = time.time()
            name = f"coord{len(glob.glob(os.path.join(self.h.dir, 'coord*.log')))}"
            c = self._coord = rc.start_coordinator(self.h, name=name)
            c["name"] = name
            wait_port(c["smtp"], c["proc"])
            wait_port(c["socketmap"], c["proc"])
            # Delivering needs the coordinators' lease: wait (bounded) until LMTP greets with 220, not 421.
            deadline = time.time() + 40
            while time.time() < deadline:
                try:
                    l = Line(c["lmtp"], timeout=5)
                    code, _ = l.reply(5)
                    l.close()
                    if code == 220:
                        break
                except OSError:
                    pass
                time.sleep(0.3)
            else:
                print("    (the new coordinator still does not greet with 220 after 40 s)", flush=True)
            if time.time() - t > 3:
                print(f"    (the new coordinator delivers after {time.time() - t:.0f} s: it waited for the coordinators' "
                      f"lease a dead one held)", flush=True)
        return c

    def restart(self, which):
        """Stop (SIGTERM) and start again the node or the coordinator; the new one has served a normal session."""
        t = time.time()
        if which == "node":
            if self._node is not None:
                self.h.stop_node(self._node)
                self._node = None
            ok, text = poplib_session_ok(self.node()["port"])
        else:
            if self._coord is not None:
                rc.stop(self._coord["proc"])
                self._coord = None
            ok, text = smtp_session_ok(self.coord()["smtp"])
        print(f"    (fresh {'node' if which == 'node' else 'coordinator'} in {time.time() - t:.1f} s; {text})", flush=True)

    def report_deaths(self, rec):
        for what, p in (("node", self._node), ("coordinator", self._coord)):
            if p is not None and p["proc"].poll() is not None and not p.get("reported"):
                p["reported"] = True
                rec.note(f"the {what} DIED (exit {p['proc'].returncode}); its log:\n{log_tail(self.h, p['name'])}")

    def stop(self):
        if self._coord is not None:
            rc.stop(self._coord["proc"])
            self._coord = None
        if self._node is not None:
            try:
                self.h.stop_node(self._node)
            except Exception as e:
                print(f"    stopping the node: {e}", flush=True)
            self._node = None


# --------------------------------------------------------------------------------------------------- cases
CASES = []


def log_tail(h, name, lines=6):
    """What a dead process's log says about it: a Swift fatal error and the first frames in Poplar's own sources,
    else the last lines."""
    try:
        with open(os.path.join(h.dir, f"{name}.log"), "rb") as f:
            text = f.read()[-400000:].decode(errors="replace")
    except OSError:
        return ""
    all_lines = text.splitlines()
    key = [l for l in all_lines if re.search(r"Fatal error|Program crashed|crashed:", l)]
    own = [l.strip() for l in all_lines if "/Sources/" in l and "/.build/" not in l][:3]
    chosen = (key[:3] + own) if key else all_lines[-lines:]
    return "\n".join("      | " + l[:220] for l in chosen)


def case(target, fresh=False):
    """target: "node", "coord" or None: whose memory the case samples. fresh: the case gets a newly started
    process: memory a previous case made the process allocate (and free, but keep) must not hide this one's."""
    def wrap(fn):
        CASES.append((fn.__name__, fn, target, fresh))
        return fn
    return wrap


def flood_case(rec, proc, sock, unit, label):
    """Flood an already set-up socket; close it; wait; record. The caller checks liveness afterwards."""
    rec.sampler.rebase()
    sent, why, secs = flood(sock, unit, rec.sampler)
    back = drain(sock)
    try:
        sock.close()
    except OSError:
        pass
    rec.send_note(f"{sent / MIB:.1f} MiB: {label}")
    if b"\r\n" in back:
        rec.got(back.split(b"\r\n")[:-1])
    elif back:  # netstrings
        rec.got([back[:40], back[-40:]])
    rec.note(f"sent {sent / MIB:.1f} MiB of {unit!r} in {secs:.1f} s; stopped: {why}; read back {len(back)} bytes afterwards")
    time.sleep(AFTER_WAIT)
    rec.mark_after()
    rec.mem_check()
    rec.check(proc.poll() is None, f"process alive after the flood (exit {proc.poll()})")


@case("node", fresh=True)
def pop3_capa_flood_preauth(ctx, rec):
    n = ctx.node()
    s = socket.create_connection(("127.0.0.1", n["port"]), timeout=10)
    flood_case(rec, n["proc"], s, b"CAPA\r\n", "CAPA (no login), unread")
    ok, text = poplib_session_ok(ctx.node()["port"])
    rec.check(ok, text)


def _postauth(ctx, rec, user, unit):
    n = ctx.node()
    c = pop_login(n["port"], user)
    r = c.cmd("STAT")
    rec.note(f"{user}: STAT {r}")
    flood_case(rec, n["proc"], c.sock, unit, f"{unit.decode().strip()} after login, unread")
    rec.note(f"{user}: {'lock released' if ctx.h.wait_free(user, 10) else 'lock STILL HELD 10 s after the close'}")
    ok, text = poplib_session_ok(ctx.node()["port"])
    rec.check(ok, text)


@case("node", fresh=True)
def pop3_flood_postauth_list(ctx, rec):
    _postauth(ctx, rec, "floodlist", b"LIST\r\n")


@case("node", fresh=True)
def pop3_flood_postauth_uidl(ctx, rec):
    _postauth(ctx, rec, "flooduidl", b"UIDL\r\n")


@case("node", fresh=True)
def pop3_flood_postauth_retr(ctx, rec):
    _postauth(ctx, rec, "floodretr", b"RETR 1\r\n")


def _smtp_flood(ctx, rec, lmtp):
    c = ctx.coord()
    port = c["lmtp"] if lmtp else c["smtp"]
    l = Line(port)
    code, g = l.reply()
    code2, e = l.smtp("LHLO flood.test" if lmtp else "EHLO flood.test")
    rec.note(f"greeting {code}, {'LHLO' if lmtp else 'EHLO'} {code2}")
    flood_case(rec, c["proc"], l.sock, b"NOOP\r\n", f"NOOP after {'LHLO' if lmtp else 'EHLO'}, unread")
    ok, text = smtp_session_ok(ctx.coord()["lmtp" if lmtp else "smtp"], lmtp)
    rec.check(ok, text)


@case("coord", fresh=True)
def smtp_noop_flood(ctx, rec):
    _smtp_flood(ctx, rec, lmtp=False)


@case("coord", fresh=True)
def lmtp_noop_flood(ctx, rec):
    _smtp_flood(ctx, rec, lmtp=True)


@case("coord", fresh=True)
def socketmap_flood(ctx, rec):
    c = ctx.coord()
    s = socket.create_connection(("127.0.0.1", c["socketmap"]), timeout=10)
    unit = netstring(f"domains {DOMAIN}")
    flood_case(rec, c["proc"], s, unit, f"{unit.decode()} ..., unread")
    ok, text = socketmap_ok(ctx.coord()["socketmap"])
    rec.check(ok, text)


@case("coord", fresh=True)
def socketmap_huge_length(ctx, rec):
    c = ctx.coord()
    sent_notes = []
    for header in (b"99999999999999999999:", b"1000000:"):
        s = socket.create_connection(("127.0.0.1", c["socketmap"]), timeout=10)
        try:
            s.sendall(header)
        except OSError:
            pass
        sent, why, secs = flood(s, b"A" * 4096, rec.sampler, max_bytes=8 * MIB, max_seconds=4, stall=1.5)
        l = Line.__new__(Line)
        l.sock, l.buf = s, b""
        s.setblocking(True)
        closed = l.closed(3)
        back = l.buf
        s.close()
        sent_notes.append(f"{header.decode()}+{sent // 1024} KiB")
        rec.got([back] if back else [])
        error_reply = re.match(rb"^\d+:(PERM|TEMP) ", back) is not None
        rec.note(f"{header.decode()} then {sent / MIB:.1f} MiB of 'A' in {secs:.1f} s ({why}); back {back[:80]!r}; "
                 f"{'closed' if closed else 'still open 3 s later'}")
        rec.check(closed or error_reply, f"{header.decode()}: connection closed or an error netstring")
    rec.send_note("; ".join(sent_notes))
    time.sleep(AFTER_WAIT / 2)
    rec.mark_after()
    rec.mem_check()
    rec.check(c["proc"].poll() is None, "coordinator alive")
    ok, text = socketmap_ok(ctx.coord()["socketmap"])
    rec.check(ok, text)


def smtp_start(port):
    l = Line(port)
    code, g = l.reply()
    assert code == 220, f"greeting {g}"
    code, e = l.smtp("EHLO x")
    assert code == 250, f"EHLO: {e}"
    return l


@case("coord")
def smtp_mail_lone_equals(ctx, rec):
    c = ctx.coord()
    l = smtp_start(c["smtp"])
    line = "MAIL FROM:<a@x.test> ="
    rec.send_note(f"EHLO x; {line}")
    try:
        code, r = l.smtp(line, timeout=10)
    except socket.timeout:
        code, r = None, ["(no reply in 10 s)"]
    l.close()
    rec.got(r)
    rec.note(f"{line!r} -> {r if r else '(no reply: the connection ended)'}")
    rec.check(code is not None and 500 <= code < 600, f"5xx reply (got {code})")
    time.sleep(0.3)
    rec.check(c["proc"].poll() is None, f"coordinator alive (exit {c['proc'].poll()})")
    ok, text = smtp_session_ok(c["smtp"]) if c["proc"].poll() is None else (False, "no process")
    rec.check(ok, text)


@case("coord")
def smtp_param_forms(ctx, rec):
    forms = [
        b"MAIL FROM:<a@x.test> =x",
        b"MAIL FROM:<a@x.test> SIZE=",
        b"MAIL FROM:<a@x.test> SIZE=1 SIZE=2",
        b"MAIL FROM:<a@x.test> BODY=8BIT\xe9\xff",
        b"MAIL FROM:<a@x.test> SIZE=1\xc3\xa9",
        b"MAIL FROM:<a@x.test> X-HOSTILE=caf\xc3\xa9\xff",
        b"MAIL FROM:<a@x.test> X=" + b"A" * 10240,
        b"MAIL FROM:<" + b"a" * 10240 + b"@x.test>",
    ]
    replies = []
    for form in forms:
        c = ctx.coord()
        try:
            l = smtp_start(c["smtp"])
            l.send(form + b"\r\n")
            code, r = l.reply(10)
            l.close()
        except socket.timeout:
            code, r = None, ["(no reply in 10 s)"]
        except OSError as e:
            code, r = None, [f"({type(e).__name__})"]
        replies.append(r[-1] if r else "(closed without a reply)")
        rec.check(code is not None and 400 <= code < 600, f"{short(form, 50)} -> {short(r[-1] if r else '(closed, no reply)', 60)}")
        rec.check(c["proc"].poll() is None, "coordinator alive")
    rec.send_note(f"{len(forms)} MAIL forms")
    rec.got(replies)
    ok, text = smtp_session_ok(ctx.coord()["smtp"])
    rec.check(ok, text)


def _smuggle(ctx, rec, sep, label):
    c = ctx.coord()
    h = ctx.h
    before = settled_count(h, "smug", 1)
    l = smtp_start(c["smtp"])
    lines = []
    for cmd in ("MAIL FROM:<a@x.test>", f"RCPT TO:<smug@{DOMAIN}>", "DATA"):
        code, r = l.smtp(cmd)
        lines += r
    rec.check(code == 354, f"DATA answered 354 (got {code})")
    body = (b"Subject: first\r\n\r\nhello" + sep + b"." + sep +
            b"MAIL FROM:<evil@x.test>\r\nRCPT TO:<smug@" + DOMAIN.encode() + b">\r\nDATA\r\n"
            b"Subject: smuggled\r\n\r\nevil\r\n.\r\n")
    l.send(body)
    rec.send_note(f"DATA with {label}, then a smuggled MAIL/RCPT/DATA")
    after_data = []
    try:
        code, r = l.reply(10)
    except socket.timeout:
        code, r = None, ["(no reply to the end of DATA in 10 s)"]
    after_data.append((code, r))
    # Anything further (the smuggled transaction's replies, if the server saw two transactions).
    deadline = time.time() + 2
    while time.time() < deadline:
        try:
            c2, r2 = l.reply(max(0.1, deadline - time.time()))
        except socket.timeout:
            break
        if c2 is None and not r2:
            break
        after_data.append((c2, r2))
    try:
        l.smtp("QUIT", 3)
    except OSError:
        pass
    l.close()
    allr = [x for _, r in after_data for x in r]
    rec.got(lines + allr)
    rec.note(f"replies after the body: {[(cc, (rr[-1] if rr else '')) for cc, rr in after_data]}")
    after = settled_count(h, "smug")
    stored = sorted(glob.glob(os.path.join(h.root, DOMAIN, "P3_smug.mbx", "P3_*.eml")))[before:]
    smuggled = any(b"Subject: smuggled" in open(p, "rb").read().split(b"\r\n\r\n", 1)[0] for p in stored)
    rec.note(f"smug mailbox: {before} -> {after} messages{'; a separate message with Subject: smuggled' if smuggled else ''}")
    rec.check(not smuggled, "no second (smuggled) message stored")
    rec.check(code is not None and 500 <= code < 600, f"the message with a {label} is refused with 5xx (got {code})")
    rec.check(after == before, f"nothing stored ({after - before} new)")
    rec.check(c["proc"].poll() is None, "coordinator alive")


@case("coord")
def smtp_smuggling_bare_lf(ctx, rec):
    _smuggle(ctx, rec, b"\n", "bare LF '\\n.\\n'")


@case("coord")
def smtp_smuggling_bare_cr(ctx, rec):
    _smuggle(ctx, rec, b"\r", "bare CR '\\r.\\r'")


def _dups(ctx, rec, lmtp):
    c = ctx.coord()
    h = ctx.h
    n = 1000
    before = settled_count(h, "dup", 1)
    l = Line(c["lmtp"] if lmtp else c["smtp"])
    code, _ = l.reply()
    l.smtp("LHLO x" if lmtp else "EHLO x")
    code, r = l.smtp("MAIL FROM:<a@x.test>")
    rec.check(code == 250, f"MAIL {code}")
    l.send(f"RCPT TO:<dup@{DOMAIN}>\r\n".encode() * n)
    codes = []
    for _ in range(n):
        try:
            cc, rr = l.reply(10)
        except socket.timeout:
            break
        if cc is None:
            break
        codes.append(cc)
    accepted = sum(1 for x in codes if 200 <= x < 300)
    refused = {}
    for x in codes:
        if not 200 <= x < 300:
            refused[x] = refused.get(x, 0) + 1
    rec.note(f"{n} x RCPT TO:<dup@{DOMAIN}>: {len(codes)} replies, {accepted} accepted, refused {refused}")
    code, r = l.smtp("DATA")
    rec.check(code == 354, f"DATA {code}")
    post = []
    if code == 354:
        l.send(b"Subject: duplicates\r\n\r\none copy please\r\n.\r\n")
        want = accepted if lmtp else 1
        deadline = time.time() + 15
        while len(post) < want and time.time() < deadline:
            try:
                cc, rr = l.reply(max(0.1, deadline - time.time()))
            except socket.timeout:
                break
            if cc is None:
                break
            post.append((cc, rr[-1]))
        try:  # any extra reply
            cc, rr = l.reply(0.5)
            if cc is not None:
                post.append((cc, rr[-1]))
        except socket.timeout:
            pass
    l.close()
    after = settled_count(h, "dup")
    rec.send_note(f"{'LHLO' if lmtp else 'EHLO'}, MAIL, {n} x RCPT same, DATA")
    rec.got([f"{len(codes)} RCPT replies ({accepted} 2xx)"] + [f"{len(post)} replies after DATA: " + (post[0][1] if post else "none")])
    rec.note(f"after DATA: {len(post)} replies, codes {sorted(set(p[0] for p in post))}; dup mailbox {before} -> {after}")
    rec.check(after - before == 1, f"exactly one copy stored (got {after - before})")
    if lmtp:
        rec.check(len(post) == accepted, f"LMTP: one reply per accepted RCPT after DATA ({len(post)} for {accepted})")
    else:
        rec.check(len(post) == 1, f"SMTP: one reply after DATA (got {len(post)})")
    rec.check(c["proc"].poll() is None, "coordinator alive")


@case("coord")
def rcpt_duplicates_lmtp(ctx, rec):
    _dups(ctx, rec, lmtp=True)


@case("coord")
def rcpt_duplicates_smtp(ctx, rec):
    _dups(ctx, rec, lmtp=False)


def busy_before_login(port, command, interval, deadline, out):
    """Send `command` every `interval` s without logging in until the server closes or `deadline` s pass."""
    l = Line(port)
    replies = [l.line()]
    t0 = time.time()
    closed_at = None
    count = 0
    while closed_at is None and time.time() - t0 < deadline:
        try:
            l.send(command + b"\r\n")
            count += 1
        except OSError:
            closed_at = time.time() - t0
            break
        end = min(time.time() + interval, t0 + deadline)
        while time.time() < end:
            try:
                r = l.line(max(0.05, end - time.time()))
            except socket.timeout:
                continue
            except OSError:
                r = None
            if r is None:
                closed_at = time.time() - t0
                break
            if not (command == b"CAPA" and r != "." and not r.startswith(("+OK", "-ERR"))):  # CAPA's list: not kept
                replies.append(r)
    l.close()
    out[command] = (closed_at, replies, count)


@case(None)
def pop3_prelogin_noop_forever(ctx, rec):
    """A client that keeps itself busy before login (NOOP, refused before login; CAPA, valid) must still be
    disconnected: by an absolute pre-login limit if the node has one (--login-timeout), else by the idle timeout."""
    timeout = 3.0
    helptext = subprocess.run([ctx.h.poplar, "node", "--help"], capture_output=True, timeout=30).stdout.decode()
    if "--login-timeout" in helptext:
        flags = ["--login-timeout", str(int(timeout))]
    else:
        flags = ["--auth-idle-timeout", str(int(timeout))]
    m = ctx.h.start_node(*flags, name="prelogin")
    rec.sampler.pid = m["proc"].pid
    rec.sampler.rebase()
    try:
        deadline = timeout * 2 + 2
        rec.note(f"node with {' '.join(flags)}: NOOP (and, on a second connection, CAPA) every {timeout / 2} s "
                 f"before login; deadline {deadline:.0f} s")
        out = {}
        threads = [threading.Thread(target=busy_before_login, args=(m["port"], cmd, timeout / 2, deadline + 1, out), daemon=True)
                   for cmd in (b"NOOP", b"CAPA")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(deadline + 15)
        notes = []
        for cmd in (b"NOOP", b"CAPA"):
            if cmd not in out:
                rec.check(False, f"{cmd.decode()}: the client thread did not finish")
                continue
            closed_at, replies, count = out[cmd]
            notes.append(f"{cmd.decode()} x{count}")
            rec.got(replies)
            rec.note(f"{cmd.decode()}: {replies[:2]} ... {replies[-1:]} ({len(replies) - 1} replies after the greeting)")
            rec.check(closed_at is not None and closed_at <= deadline,
                      f"{cmd.decode()} every {timeout / 2} s: closed by the server within {deadline:.0f} s" +
                      (f" (after {closed_at:.1f} s)" if closed_at is not None else " (still open)"))
        rec.send_note(", ".join(notes) + f", {timeout / 2} s apart, no login")
        rec.mark_after()
    finally:
        ctx.h.stop_node(m)


@case(None)
def long_names(ctx, rec):
    h = ctx.h
    cases = [
        ("a" * 250 + "@" + DOMAIN, "250-byte local part", r"long|length|characters|at most|\b6[34]\b"),
        ("ab\u202ecd@" + DOMAIN, "U+202E (bidi override)", r"not allowed|control|invisible|bidi|format|direction|U\+202E"),
        ("ab\u200bcd@" + DOMAIN, "U+200B (zero-width space)", r"not allowed|control|invisible|zero.width|format|U\+200B"),
    ]
    for addr, label, rule in cases:
        r = h.cli("mailbox", "add", addr, "--password-stdin", stdin=b"pw-long-names\n", check=False)
        err = r.stderr.decode(errors="replace").strip()
        msg = err.splitlines()[0] if err else "(no message)"
        rec.note(f"{label}: exit {r.returncode}; {msg if len(msg) < 160 else msg[:60] + ' ... ' + msg[-90:]}")
        rec.got([err.splitlines()[0] if err else f"exit {r.returncode}"])
        ok = r.returncode != 0 and re.search(rule, err, re.I) is not None and "Fatal error" not in err
        rec.check(ok, f"{label}: refused with a message naming the rule")
        exists = h.cli("mailbox", "show", addr, check=False).returncode == 0
        rec.check(not exists, f"{label}: no such mailbox exists afterwards")
        if exists:
            h.cli("mailbox", "remove", addr, check=False)
    rec.send_note("poplar mailbox add: 250-byte name, U+202E, U+200B")


@case(None)
def guid_file_readable_by_others(ctx, rec):
    """A GUID file others may read is refused, with the fix in the message (as ssh does with keys)."""
    h = ctx.h
    loose = os.path.join(h.dir, "guid-loose")
    shutil.copyfile(h.guid, loose)
    os.chmod(loose, 0o644)
    r = subprocess.run([h.poplar, "mailbox", "list", DOMAIN, "--root", h.root, "--guid-file", loose],
                       capture_output=True, timeout=60)
    err = r.stderr.decode(errors="replace").strip()
    rec.send_note("poplar mailbox list with a GUID file of mode 0644")
    rec.got([err.splitlines()[0] if err else f"exit {r.returncode}"])
    rec.check(r.returncode != 0 and "chmod 600" in err, "refused, saying how to fix it")
    rec.check(oct(os.stat(h.guid).st_mode & 0o777) == "0o600", "poplar init wrote the GUID file 0600")


@case(None)
def concurrent_mailbox_adds(ctx, rec):
    """Sixteen `poplar mailbox add` of different names at once, in a domain that is new: every one succeeds."""
    h = ctx.h
    h.cli("domain", "add", "race.test")
    procs = [subprocess.Popen([h.poplar, "mailbox", "add", f"racer{i}@race.test", "--password-stdin", "--root", h.root,
                               "--guid-file", h.guid], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for i in range(16)]
    results = [p.communicate(b"pw-racer\n", timeout=120) + (p.returncode,) for p in procs]
    failed = [(i, r[1].decode(errors="replace").strip()[:120]) for i, r in enumerate(results) if r[2] != 0]
    listed = h.cli("mailbox", "list", "race.test").stdout.decode()
    rec.send_note("16 x poplar mailbox add racerN@race.test at once")
    rec.got([f"{16 - len(failed)} of 16 exit 0"] + [f"racer{i}: {e}" for i, e in failed[:3]])
    rec.check(not failed, "every concurrent add succeeded")
    rec.check(all(f"racer{i}@race.test" in listed for i in range(16)), "all 16 mailboxes listed")


@case(None)
def mta_listeners_refuse_other_networks(ctx, rec):
    """LMTP, socketmap and the coordinator's HTTP serve only --mta-networks: a peer outside is closed before the
    greeting; SMTP still greets."""
    h = ctx.h
    ports = {k: free_port() for k in ("lmtp", "smtp", "socketmap", "http")}
    log = open(os.path.join(h.dir, "mtanet.log"), "ab")
    proc = subprocess.Popen([h.poplar, "coordinator", "--root", h.root, "--guid-file", h.guid,
                             "--lmtp", f"127.0.0.1:{ports['lmtp']}", "--smtp", f"127.0.0.1:{ports['smtp']}",
                             "--socketmap", f"127.0.0.1:{ports['socketmap']}", "--http-listen", f"127.0.0.1:{ports['http']}",
                             "--mta-networks", "10.0.0.0/8", "--coordinator-id", "mtanet", "--pickup-interval", "0",
                             "--log-level", "warning"], stdout=log, stderr=log)
    try:
        wait_port(ports["smtp"], proc)
        got = {}
        for name, hello in (("lmtp", b""), ("socketmap", b"15:domains x.test,"), ("http", b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
                            ("smtp", b"")):
            s = socket.create_connection(("127.0.0.1", ports[name]), timeout=5)
            try:
                if hello:
                    s.sendall(hello)
                got[name] = s.recv(200)
            except OSError:
                got[name] = b""
            finally:
                s.close()
        rec.send_note("from 127.0.0.1 to a coordinator with --mta-networks 10.0.0.0/8")
        rec.got([f"{k}: {v[:40]!r}" for k, v in got.items()])
        for name in ("lmtp", "socketmap", "http"):
            rec.check(got[name] == b"", f"{name}: closed without a word")
        rec.check(got["smtp"].startswith(b"220") or got["smtp"].startswith(b"421"), "SMTP answers (it is for the Internet)")
    finally:
        stop(proc)


@case("node")
def capa_after_login(ctx, rec):
    n = ctx.node()
    l = Line(n["port"])
    l.line()
    r = l.cmd("CAPA")
    before = l.multiline() if r and r.startswith("+OK") else []
    l.cmd(f"USER carol@{DOMAIN}")
    r2 = l.cmd(f"PASS {PW['carol']}")
    rec.check(r2 and r2.startswith("+OK"), f"login: {r2}")
    r = l.cmd("CAPA")
    after = l.multiline() if r and r.startswith("+OK") else []
    l.cmd("QUIT")
    l.close()
    rec.note(f"before login: {before}")
    rec.note(f"after login:  {after}")
    missing = [c for c in before if c != "STLS" and c not in after]
    rec.send_note("CAPA, USER/PASS, CAPA")
    rec.got([" ".join(before), " ".join(after)])
    rec.check(not missing, f"every capability before login (but STLS) also after (RFC 2449 s5); missing {missing}")


def s_client(port, args):
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost", "-brief", *args]
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    except subprocess.TimeoutExpired:
        return False, "s_client timed out", ""
    out = (r.stdout + r.stderr).decode(errors="replace")
    proto = re.search(r"Protocol version: (\S+)", out)
    suite = re.search(r"Ciphersuite: (\S+)", out)
    ok = "CONNECTION ESTABLISHED" in out and suite is not None
    desc = f"{proto.group(1)} {suite.group(1)}" if ok else next(
        (l.strip() for l in out.splitlines() if "alert" in l or "error" in l.lower()), out.strip()[-120:])
    return ok, desc, out


@case("node")
def tls12_weak_ciphers(ctx, rec):
    n = ctx.node()
    port = n["tls"]
    results = []
    for cipher in ("AES128-SHA", "ECDHE-RSA-AES128-SHA"):
        # The client must really offer the suite, or a local "no cipher match" would look like a refusal.
        offered = subprocess.run(["openssl", "ciphers", "-s", "-tls1_2", f"{cipher}:@SECLEVEL=0"], capture_output=True, timeout=10)
        if cipher not in offered.stdout.decode().strip().split(":"):
            rec.check(False, f"{cipher}: this openssl cannot offer it ({offered.stderr.decode().strip()[:100]}): untestable")
            continue
        ok, desc, out = s_client(port, ["-tls1_2", "-cipher", f"{cipher}:@SECLEVEL=0"])
        refused_by_server = not ok and re.search(r"alert|handshake failure|no shared cipher|unexpected eof|reset", out, re.I)
        results.append(f"{cipher}: {'ACCEPTED ' + desc if ok else 'refused'}")
        rec.check(bool(refused_by_server), f"TLS 1.2 {cipher} (CBC{', static RSA' if cipher == 'AES128-SHA' else ''}) refused: "
                                           f"{'handshake succeeded: ' + desc if ok else short(desc, 90)}")
    for label, args in (("TLS 1.3", ["-tls1_3"]), ("TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256", ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"])):
        ok, desc, out = s_client(port, args)
        results.append(f"{label}: {desc if ok else 'refused'}")
        rec.check(ok, f"{label} accepted: {short(desc, 90)}")
    rec.send_note("openssl s_client x4 to POP3S")
    rec.got(results)


@case("node")
def stls_injection(ctx, rec):
    n = ctx.node()
    l = Line(n["port"])
    l.line()
    l.send(b"STLS\r\nCAPA\r\n")
    rec.send_note("'STLS\\r\\nCAPA\\r\\n' in one packet")
    first = l.line(10)
    rec.check(first is not None and first.startswith("+OK"), f"STLS answered: {first!r}")
    closed = l.closed(3)
    plaintext = l.buf
    rec.got([first, plaintext[:80] if plaintext else ("(closed)" if closed else "(nothing, open)")])
    rec.note(f"after +OK: {plaintext[:120]!r}; {'connection closed' if closed else 'connection still open after 3 s'}")
    rec.check(plaintext == b"", "no plaintext answer to the injected CAPA")
    if not closed and plaintext == b"":
        # The injected command was discarded: the handshake must work and the session go on.
        try:
            l.sock.settimeout(10)
            l.sock = insecure_context().wrap_socket(l.sock, server_hostname="localhost")
            r = l.cmd("CAPA")
            rec.note(f"TLS after a discarded injection: CAPA -> {r!r}")
        except Exception as e:
            rec.note(f"TLS handshake after the injection: {type(e).__name__}: {e}")
    l.close()
    ok, text = poplib_session_ok(ctx.node()["port"])
    rec.check(ok, text)


# --------------------------------------------------------------------------------------------------- setup, run
LEASE = "6"  # seconds: a coordinator started after one that crashed waits this long for the coordinators' lease


def setup(h):
    # run_clients' setup (init, domain, alice/bob/carol/dave with messages, the certificate), with a short lease if
    # this binary's init has --lock-lease: cases that crash the coordinator must not cost 30 s each.
    cli = h.cli
    if "--lock-lease" in subprocess.run([h.poplar, "init", "--help"], capture_output=True, timeout=30).stdout.decode():
        h.cli = lambda *a, **kw: cli(*a, *(("--lock-lease", LEASE) if a[:1] == ("init",) else ()), **kw)
    try:
        h.setup()
    finally:
        h.cli = cli
    for user, pw in EXTRA.items():
        h.cli("mailbox", "add", f"{user}@{DOMAIN}", "--password-stdin", stdin=(pw + "\n").encode())
    body = b"".join(b"line %04d of a message to be fetched over and over, 8 KiB or so in all\r\n" % i for i in range(110))
    for user in ("floodlist", "flooduidl", "floodretr"):
        for i in range(3):
            h.deliver(user, b"Subject: flood %d\r\n\r\n" % i + body)


def row(cells, widths):
    return " | ".join(str(c)[:w].ljust(w) for c, w in zip(cells, widths))


WIDTHS = (28, 44, 52, 6, 6, 6, 6)
HEAD = ("case", "sent", "reply (first / last)", "before", "peak", "after", "result")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--poplar", required=True)
    ap.add_argument("-k", default="", help="run only cases whose name contains this")
    args = ap.parse_args()
    selected = [c for c in CASES if args.k in c[0]]
    if not selected:
        print(f"no case matches {args.k!r}")
        print("0 passed, 0 failed")
        return 1
    h = Harness(os.path.abspath(args.poplar))
    ctx = Ctx(h)
    rows = []
    passed = failed = 0
    interrupted = None

    def took_too_long(*_):
        raise TimeoutError(f"case still running after {CASE_LIMIT} s")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGALRM, took_too_long)
    t_all = time.time()
    try:
        copy = os.path.join(h.dir, "poplar")
        shutil.copy2(h.poplar, copy)
        h.poplar = copy
        setup(h)
        for name, fn, target, fresh in selected:
            rec = Rec(name)
            print(f"== {name}", flush=True)
            t = time.time()
            signal.alarm(CASE_LIMIT)
            try:
                if fresh:
                    ctx.restart(target)
                proc = ctx.node()["proc"] if target == "node" else ctx.coord()["proc"] if target == "coord" else None
                rec.sampler = Sampler(proc.pid if proc else os.getpid())
                rec.sampler.start()
                fn(ctx, rec)
            except Exception as e:
                rec.check(False, f"{type(e).__name__}: {e}")
                traceback.print_exc(limit=3)
            finally:
                signal.alarm(0)
                ctx.report_deaths(rec)
                if rec.sampler:
                    rec.sampler.stop()
                    if rec.after is None:
                        rec.mark_after()
            ok = rec.checks and all(c[0] for c in rec.checks)
            passed += bool(ok)
            failed += not ok
            if target is None and name != "pop3_prelogin_noop_forever":
                rec.sampler.before = rec.sampler.peak = rec.after = None  # nothing attacked a server's memory
            s = rec.sampler
            cells = (name, rec.sent, f"{rec.first} / {rec.last}" if rec.last != rec.first else rec.first,
                     mib(s.before if s else None), mib(s.peak if s else None), mib(rec.after), "PASS" if ok else "FAIL")
            rows.append(cells)
            print("  " + row(HEAD, WIDTHS), flush=True)
            print("  " + row(cells, WIDTHS), flush=True)
            print(f"{'PASS' if ok else 'FAIL'} {name} ({time.time() - t:.1f}s)", flush=True)
    except (SystemExit, KeyboardInterrupt) as e:
        failed += 1
        interrupted = e
        print(f"FAIL interrupted ({type(e).__name__})", flush=True)
    except Exception as e:
        failed += 1
        print(f"FAIL setup: {type(e).__name__}: {e}", flush=True)
        traceback.print_exc()
    finally:
        signal.alarm(0)
        ctx.stop()
        h.teardown()
    if rows:
        print(f"\n== summary (RSS in MiB; {time.time() - t_all:.0f} s)")
        print(row(HEAD, WIDTHS))
        print("-+-".join("-" * w for w in WIDTHS))
        for cells in rows:
            print(row(cells, WIDTHS))
    print(f"{passed} passed, {failed} failed")
    if isinstance(interrupted, SystemExit):
        return interrupted.code
    if isinstance(interrupted, KeyboardInterrupt):
        return 130
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
