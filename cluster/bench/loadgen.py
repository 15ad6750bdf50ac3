#!/usr/bin/env python3
"""POP3 load generator: asyncio in one or more processes, server-agnostic.

    python3 cluster/bench/loadgen.py --port 1110 --users users-main.tsv --script typical \
        --concurrency 16 --duration 10 [--tls implicit|stls] [--server-pid PID] [--json]

Users file: one mailbox a line, `address<TAB>password<TAB>size:wire_size:wire_sha1,…`: for each message as
delivered, in arrival order, its size and the length and SHA-1 of its dot-stuffed form (RFC 1939 §3: what RETR
must send before the terminating "."); `-` for none; without the third field nothing is verified.
cluster/bench/mailset.py writes them.

Scripts (--script):
  connect    greeting, QUIT (no login)
  login      USER, PASS, QUIT
  typical    USER, PASS, STAT, UIDL, LIST, RETR 1..min(n, --retr-count), QUIT
  retr-all   USER, PASS, STAT, RETR every message, QUIT
  retr-one   USER, PASS, RETR --retr-msg, QUIT (the big-message scenario)
  dele-all   USER, PASS, STAT, DELE every message, QUIT, then a second session checks STAT is 0 (each user once)
  idle       USER, PASS, STAT, then hold the connection until released (see --hold), then QUIT

Every session is one connection; commands are sent one at a time (no pipelining), like most clients. The
coroutines never share a mailbox (coroutine i uses users i, i+C, i+2C, …), because a POP3 mailbox is exclusive.
Every RETR is un-dot-stuffed and compared (size and SHA-1) with the users file; STAT and LIST are checked too.

It reports sessions/s, p50/p99 session latency (connect to the +OK of QUIT), RETR MB/s, errors by kind, its
own CPU seconds (all its processes) and, with --server-pid (repeatable; the process and all its descendants),
the server's CPU seconds (utime+stime of live processes plus the reaped children's time of the root) and PSS
(/proc/PID/smaps_rollup summed over the tree) sampled during the run. It uses uvloop when it is importable.
"""
import argparse
import asyncio
import collections
import hashlib
import json
import multiprocessing
import os
import resource
import signal
import ssl
import sys
import time

CLK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- server accounting (/proc)

def _stat_fields(pid):
    """The fields of /proc/<pid>/stat after the command name (state first, so ppid is [1], utime [11]), or None
    if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            s = f.read()
    except OSError:
        return None
    return s[s.rfind(b")") + 2:].split()


def _children_map():
    kids = collections.defaultdict(list)
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        rest = _stat_fields(name)
        if rest is None:
            continue
        kids[int(rest[1])].append(int(name))
    return kids


def proc_tree(roots):
    kids = _children_map()
    out = []
    todo = list(roots)
    seen = set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        out.append(p)
        todo.extend(kids.get(p, ()))
    return out


def cpu_seconds(roots):
    """utime+stime of every live process of the trees, plus cutime+cstime of the roots (their reaped children)."""
    total = 0
    for p in proc_tree(roots):
        rest = _stat_fields(p)
        if rest is None:
            continue
        total += int(rest[11]) + int(rest[12])
        if p in roots:
            total += int(rest[13]) + int(rest[14])
    return total / CLK


def pss_map(roots):
    """{pid: PSS in KiB} over the trees."""
    out = {}
    for p in proc_tree(roots):
        try:
            with open(f"/proc/{p}/smaps_rollup", "rb") as f:
                for line in f:
                    if line.startswith(b"Pss:"):
                        out[p] = int(line.split()[1])
                        break
        except OSError:
            continue
    return out


def pss_kb(roots):
    """(PSS summed over the trees in KiB, number of processes)."""
    m = pss_map(roots)
    return sum(m.values()), len(m)


def pss_growth(before, now):
    """What the live processes added since `before`: new processes count whole, old ones by their change.
    Processes that ended in between are not subtracted (a server's idle workers exiting is not a saving made by
    the load under test)."""
    return sum(kb - before.get(pid, 0) for pid, kb in now.items())


def mem_available_kb():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


# ---------------------------------------------------------------- users

def load_users(path, first=0, count=None):
    users = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            parts = line.split("\t")
            # no third field: the messages are unknown (nothing is verified); "-": there are none
            msgs = [] if len(parts) > 2 and parts[2] != "" else None
            if len(parts) > 2 and parts[2] not in ("", "-"):
                for e in parts[2].split(","):
                    f = e.split(":")
                    msgs.append((int(f[0]), int(f[1]) if len(f) > 2 else None, f[2] if len(f) > 2 else None))
            users.append((parts[0], parts[1], msgs))
    users = users[first:]
    if count is not None:
        users = users[:count]
    return users


# ---------------------------------------------------------------- protocol

class _NullHasher:
    """Counts without hashing (--no-verify)."""
    @staticmethod
    def update(_):
        pass


class ProtoError(Exception):
    def __init__(self, kind, detail=""):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


TERMINATOR = b"\r\n.\r\n"


class Block:
    """A multi-line response being received. Commands are never pipelined, so the response is over exactly when
    what came so far ends with CRLF "." CRLF (inside a dot-stuffed body that sequence cannot occur). The last 3
    octets are held back until the next piece shows they are not the terminator's ".\r\n". With a hasher the
    pieces are hashed as they come and not kept (a 10 MB RETR costs one SHA-1 pass, no copies)."""
    __slots__ = ("chunks", "hasher", "length", "tail", "hold", "done")

    def __init__(self, hasher=None):
        self.chunks = []
        self.hasher = hasher
        self.length = 0
        self.tail = b"\r\n"  # the status line's CRLF: a body that is only ".\r\n" is empty
        self.hold = b""
        self.done = False

    def feed(self, data):
        if len(data) >= 5:
            self.done = data[-5:] == TERMINATOR
        else:
            self.done = (self.tail + data)[-5:] == TERMINATOR
        self.tail = data[-4:] if len(data) >= 4 else (self.tail + data)[-4:]
        if len(data) >= 3:
            out = (self.hold, memoryview(data)[:-3])
            self.hold = data[-3:]
        else:
            both = self.hold + data
            out = (both[:-3],)
            self.hold = both[-3:]
        for piece in out:
            if len(piece):
                self.length += len(piece)
                if self.hasher is not None:
                    self.hasher.update(piece)
                else:
                    self.chunks.append(bytes(piece))


class Conn(asyncio.Protocol):
    """A POP3 client connection: lines from a small buffer, dot-terminated blocks as they come."""

    def __init__(self, loop):
        self.loop = loop
        self.buf = bytearray()
        self.transport = None
        self.waiter = None
        self.closed = loop.create_future()
        self.eof = False
        self.block_state = None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        st = self.block_state
        if st is not None:
            st.feed(data)
            if not st.done:
                return
            self.block_state = None
        else:
            self.buf += data
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    def eof_received(self):
        self._gone(None)
        return False

    def connection_lost(self, exc):
        self._gone(exc)

    def _gone(self, exc):
        self.eof = True
        if not self.closed.done():
            self.closed.set_result(exc)
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def _more(self):
        if self.eof:
            raise ProtoError("closed", "connection closed by the server")
        self.waiter = self.loop.create_future()
        await self.waiter
        self.waiter = None

    def send(self, data):
        if self.eof:
            raise ProtoError("closed", "connection closed by the server")
        self.transport.write(data)

    async def line(self):
        start = 0
        while True:
            i = self.buf.find(b"\r\n", start)
            if i >= 0:
                out = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return out
            start = max(0, len(self.buf) - 1)
            await self._more()

    async def block(self, hasher=None):
        """The rest of a multi-line response after its status line. Without a hasher: the content, un-stuffed.
        With one: the content (dot-stuffed, as sent) goes into the hasher; returns its length."""
        st = Block(hasher)
        self.block_state = st
        if self.buf:
            pending = bytes(self.buf)
            self.buf.clear()
            st.feed(pending)
            if st.done:
                self.block_state = None
        while not st.done:
            await self._more()
        if hasher is not None:
            return st.length
        data = b"".join(st.chunks)
        if b"\r\n.." in data:
            data = data.replace(b"\r\n..", b"\r\n.")
        if data[:2] == b"..":
            data = data[1:]
        return data

    async def cmd(self, text, what):
        self.send(text)
        reply = await self.line()
        if not reply.startswith(b"+OK"):
            raise ProtoError(classify_err(what, reply), reply[:120].decode("latin-1"))
        return reply

    def abort(self):
        if self.transport is not None:
            self.transport.abort()


def classify_err(what, reply):
    if reply.startswith(b"-ERR"):
        up = reply.upper()
        for code in (b"[IN-USE]", b"[SYS/TEMP]", b"[SYS/PERM]", b"[AUTH]", b"[LOGIN-DELAY]"):
            if code in up:
                return f"{what}:{code.decode().strip('[]').lower()}"
        return f"{what}:-err"
    return f"{what}:garbage"


# ---------------------------------------------------------------- one worker process

class Stats:
    def __init__(self):
        self.sessions = 0
        self.latencies = []
        self.errors = collections.Counter()
        self.error_samples = {}
        self.retr_bytes = 0
        self.retr_msgs = 0
        self.verified = 0
        self.commands = 0

    def error(self, kind, detail):
        self.errors[kind] += 1
        self.error_samples.setdefault(kind, detail[:200])


class Worker:
    def __init__(self, args, users_by_coroutine, pipe, stop_ramp):
        self.args = args
        self.users_by_coroutine = users_by_coroutine
        self.pipe = pipe
        self.stop_ramp = stop_ramp
        self.stats = Stats()
        self.ssl_ctx = None
        if args.tls != "none":
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.ssl_ctx = ctx

    async def connect(self, loop):
        implicit = self.ssl_ctx if self.args.tls == "implicit" else None
        _, conn = await loop.create_connection(lambda: Conn(loop), self.args.host, self.args.port, ssl=implicit)
        greeting = await conn.line()
        if not greeting.startswith(b"+OK"):
            conn.abort()
            raise ProtoError(classify_err("greeting", greeting), greeting[:120].decode("latin-1"))
        if self.args.tls == "stls":
            await conn.cmd(b"STLS\r\n", "stls")
            transport = await loop.start_tls(conn.transport, conn, self.ssl_ctx)
            conn.transport = transport
        return conn

    async def login(self, conn, user, password):
        await conn.cmd(b"USER " + user.encode() + b"\r\n", "user")
        await conn.cmd(b"PASS " + password.encode() + b"\r\n", "pass")
        self.stats.commands += 2

    async def stat(self, conn, msgs, check=True):
        reply = await conn.cmd(b"STAT\r\n", "stat")
        self.stats.commands += 1
        parts = reply.split()
        count, octets = int(parts[1]), int(parts[2])
        if check and msgs is not None and (count != len(msgs) or octets != sum(m[0] for m in msgs)):
            raise ProtoError("verify:stat", f"STAT {count} {octets}, expected {len(msgs)} {sum(m[0] for m in msgs)}")
        return count

    async def retr(self, conn, n, expected):
        await conn.cmd(b"RETR %d\r\n" % n, "retr")
        check = self.args.verify and expected is not None and expected[2] is not None
        hasher = hashlib.sha1() if check else None
        length = await conn.block(hasher or _NullHasher)
        self.stats.commands += 1
        self.stats.retr_bytes += length
        self.stats.retr_msgs += 1
        if check:
            _, wire_size, digest = expected
            if length != wire_size:
                raise ProtoError("verify:size", f"RETR {n}: {length} octets dot-stuffed, expected {wire_size}")
            if hasher.hexdigest() != digest:
                raise ProtoError("verify:bytes", f"RETR {n}: content differs from what was delivered")
            self.stats.verified += 1

    async def quit(self, conn):
        await conn.cmd(b"QUIT\r\n", "quit")
        self.stats.commands += 1

    async def finish(self, conn):
        # Let the server close first (it is the active closer, as with real clients), then close our end.
        if not conn.eof:
            try:
                await asyncio.wait_for(asyncio.shield(conn.closed), 2)
            except asyncio.TimeoutError:
                pass
        conn.transport.close()

    async def session(self, loop, user):
        address, password, msgs = user
        a = self.args
        conn = await self.connect(loop)
        try:
            script = a.script
            if script != "connect":
                await self.login(conn, address, password)
            if script in ("login", "connect"):
                pass
            elif script == "typical":
                count = await self.stat(conn, msgs)
                await conn.cmd(b"UIDL\r\n", "uidl")
                uidl = await conn.block()
                await conn.cmd(b"LIST\r\n", "list")
                listing = await conn.block()
                self.stats.commands += 2
                nuidl = uidl.count(b"\r\n")
                if nuidl != count:
                    raise ProtoError("verify:uidl", f"UIDL has {nuidl} lines for {count} messages")
                sizes = [int(l.split()[1]) for l in listing.split(b"\r\n") if l]
                if msgs is not None and sizes != [m[0] for m in msgs]:
                    raise ProtoError("verify:list", "LIST sizes differ from what was delivered")
                for n in range(1, min(count, a.retr_count) + 1):
                    await self.retr(conn, n, msgs[n - 1] if msgs else None)
            elif script == "retr-all":
                count = await self.stat(conn, msgs)
                for n in range(1, count + 1):
                    await self.retr(conn, n, msgs[n - 1] if msgs else None)
            elif script == "retr-one":
                await self.retr(conn, a.retr_msg, msgs[a.retr_msg - 1] if msgs and len(msgs) >= a.retr_msg else None)
            elif script == "dele-all":
                count = await self.stat(conn, msgs)
                for n in range(1, count + 1):
                    await conn.cmd(b"DELE %d\r\n" % n, "dele")
                    self.stats.commands += 1
            await self.quit(conn)
        except BaseException:
            conn.abort()
            raise
        await self.finish(conn)
        if a.script == "dele-all":
            conn = await self.connect(loop)
            try:
                await self.login(conn, address, password)
                if await self.stat(conn, None, check=False) != 0:
                    raise ProtoError("verify:dele", "messages left after DELE all and QUIT")
                await self.quit(conn)
            except BaseException:
                conn.abort()
                raise
            await self.finish(conn)

    async def guarded(self, coro_factory):
        try:
            await asyncio.wait_for(coro_factory(), self.args.timeout)
            return True
        except ProtoError as e:
            self.stats.error(e.kind, str(e))
        except asyncio.TimeoutError:
            self.stats.error("timeout", f"no answer within {self.args.timeout} s")
        except ssl.SSLError as e:
            self.stats.error("tls", str(e))
        except ConnectionRefusedError as e:
            self.stats.error("connect:refused", str(e))
        except ConnectionResetError as e:
            self.stats.error("reset", str(e))
        except OSError as e:
            self.stats.error(f"os:{e.errno}", str(e))
        except (ValueError, IndexError) as e:
            self.stats.error("parse", repr(e))
        return False

    async def rate_coroutine(self, loop, users, deadline):
        i = 0
        while loop.time() < deadline:
            if not users:
                return
            if self.args.once and i >= len(users):
                return
            user = users[i % len(users)]
            i += 1
            t = time.perf_counter()
            ok = await self.guarded(lambda: self.session(loop, user))
            if ok:
                self.stats.sessions += 1
                self.stats.latencies.append(time.perf_counter() - t)
            else:
                await asyncio.sleep(0.05)

    async def idle_coroutine(self, loop, user, sem, established, release):
        address, password, msgs = user
        conn = None

        async def open_one():
            nonlocal conn
            conn = await self.connect(loop)
            try:
                await self.login(conn, address, password)
                await self.stat(conn, msgs)
            except BaseException:
                conn.abort()
                raise

        async with sem:
            if self.stop_ramp.value:
                self.stats.errors["not-attempted"] += 1
                return
            t = time.perf_counter()
            if not await self.guarded(open_one):
                if self.stats.errors.total() >= self.args.max_errors:
                    self.stop_ramp.value = 1
                return
            self.stats.latencies.append(time.perf_counter() - t)
        established.append(conn)
        done, _ = await asyncio.wait([release, conn.closed], return_when=asyncio.FIRST_COMPLETED)
        if conn.closed in done and not release.done():
            self.stats.error("dropped-while-idle", "the server closed an idle authenticated connection")
            return
        if conn.eof:
            self.stats.error("dropped-while-idle", "the server closed an idle authenticated connection")
            return
        if await self.guarded(lambda: self._quit_and_finish(conn)):
            self.stats.sessions += 1

    async def _quit_and_finish(self, conn):
        await self.quit(conn)
        await self.finish(conn)

    async def run(self):
        loop = asyncio.get_running_loop()
        a = self.args
        # Wait for the start signal from the parent (so that all processes start together).
        msg = await loop.run_in_executor(None, self.pipe.recv)
        start = time.perf_counter()
        if a.script == "idle":
            sem = asyncio.Semaphore(a.ramp_concurrency)
            established = []
            release = loop.create_future()
            tasks = [asyncio.ensure_future(self.idle_coroutine(loop, u, sem, established, release))
                     for users in self.users_by_coroutine for u in users[:1]]
            # Report when the ramp is over (every task has either established or failed).
            while True:
                pending_ramp = sum(1 for t in tasks if not t.done()) - len(established)
                if pending_ramp <= 0:
                    break
                await asyncio.sleep(0.05)
            self.pipe.send(("ramped", len(established), dict(self.stats.errors), time.perf_counter() - start))
            await loop.run_in_executor(None, self.pipe.recv)
            alive_before_release = sum(1 for c in established if not c.eof)
            release.set_result(None)
            await asyncio.gather(*tasks)
            self.stats.alive_at_release = alive_before_release
        else:
            deadline = loop.time() + msg["duration"]
            await asyncio.gather(*(self.rate_coroutine(loop, users, deadline) for users in self.users_by_coroutine))
        elapsed = time.perf_counter() - start
        s = self.stats
        self.pipe.send(("done", {
            "sessions": s.sessions, "latencies": s.latencies, "errors": dict(s.errors), "error_samples": s.error_samples,
            "retr_bytes": s.retr_bytes, "retr_msgs": s.retr_msgs, "verified": s.verified, "commands": s.commands,
            "elapsed": elapsed, "alive_at_release": getattr(s, "alive_at_release", None),
        }))


def worker_main(args, users_by_coroutine, pipe, stop_ramp):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass
    if args.uvloop:
        import uvloop
        uvloop.install()
    asyncio.run(Worker(args, users_by_coroutine, pipe, stop_ramp).run())


# ---------------------------------------------------------------- parent

def percentile(sorted_values, q):
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


def run(args, log=lambda *a: None):
    users = load_users(args.users, args.first_user, args.user_count)
    c = args.concurrency if args.script != "idle" else len(users)
    if c > len(users):
        raise SystemExit(f"concurrency {c} is more than the {len(users)} users: sessions would share mailboxes")
    per_coroutine = [users[i::c] for i in range(c)]
    procs = args.procs or max(1, len(os.sched_getaffinity(0)))
    if args.script == "idle":
        # each process keeps its share of the connections under the fd limit
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        procs = max(procs, -(-c // max(1, soft - 200)))
    procs = min(procs, c)
    ctx = multiprocessing.get_context("fork")
    stop_ramp = ctx.Value("i", 0, lock=False)
    pipes = []
    children = []
    for p in range(procs):
        parent_end, child_end = ctx.Pipe()
        mine = per_coroutine[p::procs]
        pr = ctx.Process(target=worker_main, args=(args, mine, child_end, stop_ramp), daemon=True)
        pr.start()
        pipes.append(parent_end)
        children.append(pr)
    roots = args.server_pid or []
    self_cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    pss_samples = []
    before_map = pss_map(roots) if roots else {}
    pss_before = (sum(before_map.values()), len(before_map))
    cpu0 = cpu_seconds(roots) if roots else 0.0
    t0 = time.perf_counter()
    for p in pipes:
        p.send({"duration": args.duration})
    results = [None] * procs
    idle = None
    if args.script == "idle":
        ramped = [None] * procs
        min_avail = mem_available_kb()
        while any(r is None for r in ramped):
            for i, p in enumerate(pipes):
                if ramped[i] is None and p.poll(0):
                    ramped[i] = p.recv()
            avail = mem_available_kb()
            min_avail = min(min_avail, avail)
            if avail < args.min_mem_available_mb * 1024 and not stop_ramp.value:
                log(f"MemAvailable {avail // 1024} MB is under the floor: the ramp stops here")
                stop_ramp.value = 1
            time.sleep(0.1)
        ramp_time = time.perf_counter() - t0
        established = sum(r[1] for r in ramped)
        time.sleep(args.settle)
        held_map = pss_map(roots) if roots else {}
        pss_held = (sum(held_map.values()), len(held_map))
        cpu_h0 = cpu_seconds(roots) if roots else 0.0
        th0 = time.perf_counter()
        time.sleep(args.hold)
        hold_elapsed = time.perf_counter() - th0
        cpu_h1 = cpu_seconds(roots) if roots else 0.0
        end_map = pss_map(roots) if roots else {}
        pss_end = (sum(end_map.values()), len(end_map))
        growth = pss_growth(before_map, end_map)
        for p in pipes:
            p.send("release")
        idle = {
            "target": len(users), "established": established, "ramp_s": ramp_time,
            "mem_stop": bool(stop_ramp.value), "min_mem_available_mb": min_avail // 1024,
            "pss_before_kb": pss_before[0], "pss_held_kb": pss_held[0], "pss_end_kb": pss_end[0],
            "procs_held": pss_held[1],
            "pss_growth_kb": growth, "kb_per_conn": growth / established if established else None,
            "hold_s": hold_elapsed, "hold_cpu_s": cpu_h1 - cpu_h0,
        }
    pending = set(range(procs))
    next_sample = time.perf_counter()
    while pending:
        for i in list(pending):
            if pipes[i].poll(0):
                kind, payload = pipes[i].recv()
                if kind == "done":
                    results[i] = payload
                    pending.discard(i)
        now = time.perf_counter()
        if roots and args.script != "idle" and now >= next_sample:
            m = pss_map(roots)
            pss_samples.append((sum(m.values()), len(m), pss_growth(before_map, m)))
            next_sample = now + args.sample_interval
        time.sleep(0.01)
    elapsed = time.perf_counter() - t0
    cpu1 = cpu_seconds(roots) if roots else 0.0
    pss_after = pss_kb(roots) if roots else (0, 0)
    for pr in children:
        pr.join(10)
    self_cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_cpu = (self_cpu1.ru_utime + self_cpu1.ru_stime - self_cpu0.ru_utime - self_cpu0.ru_stime
                + kids.ru_utime + kids.ru_stime)
    lat = sorted(x for r in results for x in r["latencies"])
    errors = collections.Counter()
    samples = {}
    for r in results:
        errors.update(r["errors"])
        for k, v in r["error_samples"].items():
            samples.setdefault(k, v)
    sessions = sum(r["sessions"] for r in results)
    retr_bytes = sum(r["retr_bytes"] for r in results)
    run_elapsed = max(r["elapsed"] for r in results)
    out = {
        "script": args.script, "host": args.host, "port": args.port, "tls": args.tls,
        "concurrency": c, "procs": procs, "uvloop": bool(args.uvloop), "duration": args.duration,
        "elapsed_s": run_elapsed, "sessions": sessions, "sessions_per_s": sessions / run_elapsed if run_elapsed else 0,
        "p50_ms": percentile(lat, 0.50) * 1000 if lat else None, "p99_ms": percentile(lat, 0.99) * 1000 if lat else None,
        "retr_msgs": sum(r["retr_msgs"] for r in results), "retr_bytes": retr_bytes,
        "retr_mb_s": retr_bytes / run_elapsed / 1e6 if run_elapsed else 0,
        "verified": sum(r["verified"] for r in results), "commands": sum(r["commands"] for r in results),
        "errors": dict(errors), "error_samples": samples,
        "loadgen_cpu_s": load_cpu, "loadgen_cpu_pct": 100 * load_cpu / elapsed / max(1, len(os.sched_getaffinity(0))),
    }
    if roots:
        pss_values = [s[0] for s in pss_samples] or [pss_after[0]]
        out["server"] = {
            "cpu_s": cpu1 - cpu0, "cpu_pct": 100 * (cpu1 - cpu0) / elapsed,
            "cpu_ms_per_session": 1000 * (cpu1 - cpu0) / sessions if sessions else None,
            "pss_before_kb": pss_before[0], "pss_mean_kb": sum(pss_values) / len(pss_values),
            "pss_max_kb": max(pss_values), "pss_after_kb": pss_after[0],
            "procs_max": max([s[1] for s in pss_samples] or [pss_after[1]]),
            "pss_growth_max_kb": max([s[2] for s in pss_samples] or [0]),
        }
    if idle is not None:
        idle["alive_at_release"] = sum(r["alive_at_release"] or 0 for r in results)
        out["idle"] = idle
    return out


def human(out):
    lines = [
        f"{out['script']} on {out['host']}:{out['port']} tls={out['tls']} concurrency={out['concurrency']} "
        f"({out['procs']} processes, {'uvloop' if out['uvloop'] else 'asyncio'})",
        f"  sessions {out['sessions']} in {out['elapsed_s']:.1f} s = {out['sessions_per_s']:.1f}/s; latency p50 "
        f"{out['p50_ms'] or 0:.1f} ms p99 {out['p99_ms'] or 0:.1f} ms",
        f"  RETR {out['retr_msgs']} messages, {out['retr_bytes'] / 1e6:.1f} MB = {out['retr_mb_s']:.1f} MB/s; "
        f"{out['verified']} verified against the users file",
        f"  errors: {out['errors'] or 'none'}",
        f"  load generator CPU {out['loadgen_cpu_s']:.1f} s ({out['loadgen_cpu_pct']:.0f}% of its cores)",
    ]
    for k, v in out["error_samples"].items():
        lines.append(f"    {k}: {v}")
    if "server" in out:
        s = out["server"]
        lines.append(f"  server CPU {s['cpu_s']:.2f} s ({s['cpu_pct']:.0f}%), {s['cpu_ms_per_session'] or 0:.2f} ms per session; "
                     f"PSS before {s['pss_before_kb'] / 1024:.1f} MB, mean {s['pss_mean_kb'] / 1024:.1f} MB, max "
                     f"{s['pss_max_kb'] / 1024:.1f} MB over {s['procs_max']} processes, growth up to {s['pss_growth_max_kb'] / 1024:.1f} MB")
    if "idle" in out:
        i = out["idle"]
        lines.append(f"  idle: {i['established']} of {i['target']} established in {i['ramp_s']:.1f} s"
                     f"{' (stopped: memory floor)' if i['mem_stop'] else ''}; PSS {i['pss_before_kb'] / 1024:.1f} → "
                     f"{i['pss_end_kb'] / 1024:.1f} MB, growth {i['kb_per_conn'] or 0:.1f} KB per connection over "
                     f"{i['procs_held']} processes; {i['hold_cpu_s']:.2f} s CPU over a {i['hold_s']:.0f} s hold; "
                     f"{i['alive_at_release']} still open at release")
    return "\n".join(lines)


def parser():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tls", choices=("none", "implicit", "stls"), default="none")
    ap.add_argument("--users", required=True, help="users file (address, password, manifest)")
    ap.add_argument("--first-user", type=int, default=0, help="skip this many lines of the users file")
    ap.add_argument("--user-count", type=int, help="use this many users")
    ap.add_argument("--script", choices=("connect", "login", "typical", "retr-all", "retr-one", "dele-all", "idle"), default="typical")
    ap.add_argument("--retr-count", type=int, default=20, help="typical: RETR at most this many messages")
    ap.add_argument("--retr-msg", type=int, default=1, help="retr-one: the message number")
    ap.add_argument("--concurrency", type=int, default=16, help="sessions at once (idle: one per user)")
    ap.add_argument("--duration", type=float, default=10, help="seconds; sessions started before the end finish")
    ap.add_argument("--once", action="store_true", help="each user at most once (cache-miss logins, dele-all)")
    ap.add_argument("--procs", type=int, default=0, help="load processes (default: the CPUs this runs on)")
    ap.add_argument("--timeout", type=float, default=60, help="per session (idle: per login)")
    ap.add_argument("--no-verify", dest="verify", action="store_false")
    ap.add_argument("--server-pid", type=int, action="append", help="measure this process and its descendants")
    ap.add_argument("--sample-interval", type=float, default=0.5, help="PSS sampling period")
    ap.add_argument("--ramp-concurrency", type=int, default=32, help="idle: logins in flight per process")
    ap.add_argument("--settle", type=float, default=2, help="idle: seconds between the ramp and the memory sample")
    ap.add_argument("--hold", type=float, default=10, help="idle: seconds the connections are held after the ramp")
    ap.add_argument("--max-errors", type=int, default=200, help="idle: stop the ramp after this many errors")
    ap.add_argument("--min-mem-available-mb", type=int, default=3000, help="idle: stop the ramp below this MemAvailable")
    ap.add_argument("--no-uvloop", dest="uvloop", action="store_false")
    ap.add_argument("--json", action="store_true")
    return ap


def main():
    args = parser().parse_args()
    if args.uvloop:
        try:
            import uvloop  # noqa: F401
        except ImportError:
            args.uvloop = False
    if args.script == "dele-all":
        args.once = True
    out = run(args, log=lambda m: print(m, file=sys.stderr))
    print(json.dumps(out) if args.json else human(out))


if __name__ == "__main__":
    main()
