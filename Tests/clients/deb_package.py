#!/usr/bin/env python3
"""The Debian package: built from the binary under test, installed with dpkg, a mailbox served, purged.

Started by Tests/run-tests: python3 Tests/clients/deb_package.py --poplar BIN. Needs root (dpkg -i); without it
it prints SKIP and exits 0. Each step prints PASS or FAIL; the first failure stops the steps that depend on it;
the package is purged at the end whatever happened. The last line is "N passed, N failed".

PID 1 is not systemd on the test machines, so the units cannot be started: `systemd-analyze verify` checks them,
and the node is run as the units would run it, as far as a process can do it to itself before exec (see
`sandboxed`): the poplar user, UMask=0077, NoNewPrivileges, MemoryDenyWriteExecute (the kernel's PR_SET_MDWE),
SystemCallFilter=@system-service minus @privileged and @resources (systemd's own lists, with libseccomp),
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX.
"""
import argparse
import ctypes
import errno
import grp
import os
import pwd
import random
import shutil
import signal
import smtplib
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
UNITS = ["poplar-node.service", "poplar-coordinator.service"]
MAX_EXPOSURE = 2.0  # systemd-analyze security of the units: 1.4 when written; a change that loosens them fails here


def free_port():
    # Below the ephemeral range, as the other suites do (Tests/clients/run_clients.py).
    while True:
        port = random.randrange(20000, 32000)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()


def run(cmd, check=True, timeout=120, **kw):
    r = subprocess.run(cmd, capture_output=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {r.returncode}: {(r.stderr or r.stdout).decode(errors='replace')[-1500:]}")
    return r


def as_poplar(*args, stdin=None):
    """One poplar command as the poplar user, with the units' umask."""
    return run(["runuser", "-u", "poplar", "--", "sh", "-c", 'umask 077; exec "$@"', "sh", "/usr/bin/poplar", *args],
               input=stdin)


# --- the units' sandbox, applied by this process to itself before it execs the node -----------------------------

def syscall_sets():
    """systemd's own system call groups (`systemd-analyze syscall-filter`): name -> members (names or @groups)."""
    sets, current = {}, None
    for line in run(["systemd-analyze", "syscall-filter"]).stdout.decode().splitlines():
        if line.startswith("@"):
            current = sets.setdefault(line.strip(), [])
        elif line.startswith("    ") and current is not None and not line.strip().startswith("#"):
            current.append(line.strip())
        elif not line.strip():
            current = None
    return sets


def expand(sets, name, seen=None):
    seen = set() if seen is None else seen
    out = set()
    for member in sets.get(name, []):
        if member.startswith("@"):
            if member not in seen:
                seen.add(member)
                out |= expand(sets, member, seen)
        else:
            out.add(member)
    return out


class ScmpArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def sandboxed(user, argv, allowed):
    """In a child between fork and exec: become USER and apply the units' restrictions, then exec argv."""
    pw = pwd.getpwnam(user)
    os.setgroups([])
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)  # every capability goes with root (the test's ports are above 1024)
    os.umask(0o077)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        os._exit(120)
    if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, MDWE_REFUSE_EXEC_GAIN: no W+X mapping, no X added later
        os._exit(121)
    sc = ctypes.CDLL("libseccomp.so.2")
    sc.seccomp_init.restype = ctypes.c_void_p
    sc.seccomp_init.argtypes = [ctypes.c_uint32]
    sc.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    sc.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                          ctypes.POINTER(ScmpArgCmp)]
    sc.seccomp_load.argtypes = [ctypes.c_void_p]
    errno_action = lambda e: 0x00050000 | (e & 0xFFFF)  # SCMP_ACT_ERRNO
    allow = 0x7FFF0000  # SCMP_ACT_ALLOW
    ctx = sc.seccomp_init(errno_action(errno.EPERM))  # SystemCallErrorNumber=EPERM
    for name in sorted(allowed - {"socket"}):
        nr = sc.seccomp_syscall_resolve_name(name.encode())
        if nr >= 0 and sc.seccomp_rule_add_array(ctx, allow, nr, 0, None) != 0:
            os._exit(122)
    nr = sc.seccomp_syscall_resolve_name(b"socket")
    for family in (socket.AF_UNIX, socket.AF_INET, socket.AF_INET6):  # RestrictAddressFamilies
        cmp = ScmpArgCmp(0, 4, family, 0)  # SCMP_CMP_EQ on the first argument
        if sc.seccomp_rule_add_array(ctx, allow, nr, 1, ctypes.byref(cmp)) != 0:
            os._exit(123)
    cmp = ScmpArgCmp(0, 6, socket.AF_INET6, 0)  # SCMP_CMP_GT: AF_NETLINK, AF_PACKET, ... refused as systemd does
    sc.seccomp_rule_add_array(ctx, errno_action(errno.EAFNOSUPPORT), nr, 1, ctypes.byref(cmp))
    if sc.seccomp_load(ctx) != 0:
        os._exit(124)
    os.execv(argv[0], argv)


# --- the steps ----------------------------------------------------------------------------------------------------

class Run:
    def __init__(self, poplar):
        self.poplar = poplar
        self.dir = tempfile.mkdtemp(prefix="poplar-deb-test-")
        os.chmod(self.dir, 0o755)
        self.deb = None
        self.node = self.coordinator = None
        self.user_existed = any(p.pw_name == "poplar" for p in pwd.getpwall())
        self.passed = self.failed = 0

    def step(self, name, fn):
        t = time.time()
        try:
            detail = fn()
        except Exception as e:  # noqa: BLE001 - a failed step, whatever the cause
            self.failed += 1
            print(f"FAIL {name}: {e}", flush=True)
            return False
        self.passed += 1
        print(f"PASS {name} ({time.time() - t:.1f} s){': ' + detail if detail else ''}", flush=True)
        return True

    def build(self):
        r = run(["bash", os.path.join(TOP, "cluster", "deb", "build-deb.sh"), "--binary", self.poplar,
                 "--out", os.path.join(self.dir, "out"), "--compression", "gzip"], timeout=300)
        self.deb = r.stdout.decode().strip().splitlines()[-1]
        assert os.path.basename(self.deb).startswith("poplar_") and self.deb.endswith(".deb"), self.deb
        return f"{os.path.basename(self.deb)}, {os.path.getsize(self.deb) // 1024} KiB"

    def contents(self):
        listing = run(["dpkg-deb", "-c", self.deb]).stdout.decode().splitlines()
        entries = {l.split()[-1].rstrip("/"): l.split()[0] + " " + l.split()[1] for l in listing}
        for path in ["./usr/bin/poplar", "./lib/systemd/system/poplar-node.service",
                     "./lib/systemd/system/poplar-coordinator.service", "./usr/share/man/man1/poplar.1.gz",
                     "./usr/share/man/man1/poplar-node.1.gz", "./usr/share/man/man1/poplar-mailbox-add.1.gz",
                     "./usr/share/bash-completion/completions/poplar", "./usr/share/zsh/vendor-completions/_poplar",
                     "./usr/share/fish/vendor_completions.d/poplar.fish",
                     "./usr/share/doc/poplar/examples/node.json.example",
                     "./usr/share/doc/poplar/examples/coordinator.json.example", "./usr/share/doc/poplar/copyright"]:
            assert path in entries, f"{path} is not in the package"
        assert entries["./usr/bin/poplar"] == "-rwxr-xr-x root/root", entries["./usr/bin/poplar"]
        assert entries.get("./etc/poplar") == "drwxr-x--- root/root", f"/etc/poplar: {entries.get('./etc/poplar')}"
        depends = run(["dpkg-deb", "-f", self.deb, "Depends"]).stdout.decode().strip()
        for lib in ("adduser", "libc6", "libnfs", "libldap", "libpam0g"):
            assert lib in depends, f"Depends lacks {lib}: {depends}"
        return f"{len(entries)} entries; Depends: {depends}"

    def install(self):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run(["dpkg", "-i", self.deb], env=env)
        p, g = pwd.getpwnam("poplar"), grp.getgrnam("poplar")
        assert p.pw_gid == g.gr_gid and p.pw_dir == "/var/lib/poplar" and p.pw_shell.endswith("nologin"), p
        assert p.pw_uid < 1000, f"poplar is not a system user (uid {p.pw_uid})"
        st = os.stat("/etc/poplar")
        assert stat.S_IMODE(st.st_mode) == 0o750 and st.st_uid == 0 and st.st_gid == g.gr_gid, oct(st.st_mode)
        st = os.stat("/var/lib/poplar")
        assert st.st_uid == p.pw_uid and stat.S_IMODE(st.st_mode) == 0o750, (st.st_uid, oct(st.st_mode))
        # Again over itself: the maintainer scripts are idempotent (the user exists now).
        run(["dpkg", "-i", self.deb], env=env)
        status = run(["dpkg-query", "-W", "-f", "${Status} ${Version}", "poplar"]).stdout.decode()
        assert status.startswith("install ok installed"), status
        version = run(["/usr/bin/poplar", "--version"]).stdout.decode().strip()
        assert version.startswith("poplar "), version
        return f"user poplar uid {p.pw_uid}, {version}"

    def verify_units(self):
        paths = [os.path.join("/lib/systemd/system", u) for u in UNITS]
        r = run(["systemd-analyze", "verify", *paths], check=False)
        text = (r.stdout + r.stderr).decode()
        ours = [l for l in text.splitlines() if "poplar" in l]
        assert r.returncode == 0 and not ours, f"systemd-analyze verify exited {r.returncode}: {text[-1500:]}"
        scores = []
        for path in paths:
            out = run(["systemd-analyze", "security", "--offline=true", "--no-pager", path]).stdout.decode()
            line = [l for l in out.splitlines() if "Overall exposure level" in l][-1]
            score = float(line.split(":")[1].split()[0])
            assert score <= MAX_EXPOSURE, f"{os.path.basename(path)}: exposure {score} > {MAX_EXPOSURE}"
            scores.append(f"{os.path.basename(path)} {score}")
        return "exposure " + ", ".join(scores)

    def serve(self):
        p = pwd.getpwnam("poplar")
        base = os.path.join(self.dir, "srv")
        os.makedirs(os.path.join(base, "mail"))
        os.makedirs(os.path.join(base, "etc"))
        for d in (base, os.path.join(base, "mail"), os.path.join(base, "etc")):
            os.chown(d, p.pw_uid, p.pw_gid)
            os.chmod(d, 0o750)
        root, guid = os.path.join(base, "mail"), os.path.join(base, "etc", "guid")
        cert, key = os.path.join(base, "etc", "cert.pem"), os.path.join(base, "etc", "key.pem")
        common = ["--root", root, "--guid-file", guid]
        as_poplar("init", *common, "--kdf-rounds", "1000")
        st = os.stat(guid)
        assert st.st_uid == p.pw_uid and stat.S_IMODE(st.st_mode) == 0o600, f"GUID file {oct(st.st_mode)} uid {st.st_uid}"
        as_poplar("domain", "add", "deb.test", *common)
        as_poplar("mailbox", "add", "carol@deb.test", "--password-stdin", *common, stdin=b"carol deb pw\n")
        message = b"Subject: from the package\r\nFrom: a@b\r\n\r\nserved by /usr/bin/poplar as poplar\r\n.dot\r\n"
        as_poplar("deliver", "carol@deb.test", *common, stdin=message)
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
             "-subj", "/CN=localhost"])
        for f in (cert, key):
            os.chown(f, p.pw_uid, p.pw_gid)
            os.chmod(f, 0o600)

        sets = syscall_sets()
        allowed = expand(sets, "@system-service") - expand(sets, "@privileged") - expand(sets, "@resources")
        port, tls_port, http_port, lmtp_port = free_port(), free_port(), free_port(), free_port()
        self.node = self.start_sandboxed(
            "node", ["/usr/bin/poplar", "node", *common, "--listen", f"127.0.0.1:{port}", "--tls-listen",
                     f"127.0.0.1:{tls_port}", "--cert", cert, "--key", key, "--node-id", "debtest",
                     "--http-listen", f"127.0.0.1:{http_port}", "--drain-time", "1", "--log-level", "info"],
            port, allowed)
        self.coordinator = self.start_sandboxed(
            "coordinator", ["/usr/bin/poplar", "coordinator", *common, "--lmtp", f"127.0.0.1:{lmtp_port}",
                            "--socketmap", f"127.0.0.1:{free_port()}", "--coordinator-id", "debcoord",
                            "--hostname", "mx.deb.test", "--log-level", "info"],
            lmtp_port, allowed)
        for proc in (self.node, self.coordinator):
            with open(f"/proc/{proc.pid}/status") as f:
                status = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
            assert status["Uid"].split()[0] == str(p.pw_uid), status["Uid"]
            assert status["Seccomp"].strip() == "2" and status["NoNewPrivs"].strip() == "1", status
            assert status["CapEff"].strip() == "0" * 16, status["CapEff"]

        def fetch(scheme, p_, n=1, expected=message):
            r = run(["curl", "-s", "-S", "-k", f"{scheme}://127.0.0.1:{p_}/{n}", "-u", "carol@deb.test:carol deb pw"],
                    timeout=30)
            # The coordinator adds its trace header fields on top; the message follows them byte for byte.
            ok = r.stdout == expected if n == 1 else r.stdout.endswith(b"\r\n" + expected)
            assert ok, f"{scheme} message {n}: {r.stdout[:300]!r} is not the message delivered"

        fetch("pop3", port)
        fetch("pop3s", tls_port)
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/health/ready", timeout=10) as r:
            assert r.status == 200, r.status
        # The coordinator delivers over LMTP (a standby answers 4xx until it holds the coordinators' lease).
        inbound = b"Subject: through LMTP\r\n\r\ndelivered by the packaged coordinator\r\n"
        deadline = time.time() + 20
        while True:
            try:
                with smtplib.LMTP("127.0.0.1", lmtp_port, timeout=10) as lmtp:
                    refused = lmtp.sendmail("sender@example.org", ["carol@deb.test"], inbound)
                assert not refused, refused
                break
            except smtplib.SMTPException as e:
                if time.time() > deadline:
                    raise AssertionError(f"LMTP delivery refused: {e}; {self.log('coordinator')}")
                time.sleep(0.5)
        fetch("pop3", port, 2, inbound)
        # ExecReload: SIGHUP reads the certificate again; the node goes on serving.
        self.node.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert self.node.poll() is None, "the node exited on SIGHUP: " + self.log('node')
        fetch("pop3s", tls_port)
        # The units' KillSignal: SIGTERM drains and exits 0.
        for name, proc in (("node", self.node), ("coordinator", self.coordinator)):
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=40)
            assert rc == 0, f"the {name} exited {rc} on SIGTERM: {self.log(name)}"
        owners = {os.stat(os.path.join(d, f)).st_uid for d, _, fs in os.walk(root) for f in fs}
        assert owners == {p.pw_uid}, f"files in the mail root owned by {owners}"
        return ("POP3 and POP3S fetched the messages delivered by poplar deliver and by the coordinator over LMTP; "
                "SIGHUP kept the node serving; SIGTERM: both exit 0")

    def start_sandboxed(self, name, argv, port, allowed):
        log = open(os.path.join(self.dir, f"{name}.log"), "wb")
        proc = subprocess.Popen(argv, stdout=log, stderr=log, cwd="/", preexec_fn=lambda: sandboxed("poplar", argv, allowed))
        setattr(self, name, proc)  # stopped by cleanup() even if it never listens
        deadline = time.time() + 30
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"the {name} exited {proc.returncode}: {self.log(name)}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return proc
            except OSError:
                if time.time() > deadline:
                    raise AssertionError(f"the {name} did not listen within 30 s: {self.log(name)}")
                time.sleep(0.1)

    def log(self, name):
        try:
            with open(os.path.join(self.dir, f"{name}.log"), errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def purge(self):
        run(["dpkg", "--purge", "poplar"])
        left = [p for p in ["/usr/bin/poplar", "/etc/poplar", "/var/lib/poplar"] +
                [os.path.join("/lib/systemd/system", u) for u in UNITS] if os.path.lexists(p)]
        assert not left, f"left after purge: {left}"
        r = run(["dpkg-query", "-W", "poplar"], check=False)
        assert r.returncode != 0, "dpkg still knows poplar"
        assert any(p.pw_name == "poplar" for p in pwd.getpwall()), "the poplar user was removed (it is kept)"
        return "binary, units, /etc/poplar and /var/lib/poplar gone; the poplar user kept"

    def cleanup(self):
        for proc in (self.node, self.coordinator):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        if run(["dpkg-query", "-W", "poplar"], check=False).returncode == 0:
            run(["dpkg", "--purge", "poplar"], check=False)
        if not self.user_existed:  # leave the machine as found: the next run creates the user again
            run(["userdel", "poplar"], check=False)
            run(["groupdel", "poplar"], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--poplar", required=True, help="the poplar binary to package")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIP the Debian package: dpkg -i needs root")
        return 0
    missing = [t for t in ("dpkg-deb", "dpkg-shlibdeps", "systemd-analyze", "curl", "openssl", "runuser", "strip")
               if shutil.which(t) is None]
    if missing:
        print(f"FAIL the Debian package: missing {', '.join(missing)} (Tests/run-tests installs them)")
        return 1
    if run(["dpkg-query", "-W", "-f", "${Status}", "poplar"], check=False).stdout.decode().startswith("install"):
        print("FAIL the Debian package: a poplar package is installed on this machine already; this test installs and "
              "purges its own (dpkg --purge poplar first)")
        return 1
    if os.path.lexists("/usr/bin/poplar"):
        print("FAIL the Debian package: /usr/bin/poplar exists and belongs to no package; dpkg -i would replace it")
        return 1
    started = time.time()
    r = Run(os.path.abspath(args.poplar))
    try:
        for name, fn in [("build the .deb from the binary under test (cluster/deb/build-deb.sh)", r.build),
                         ("the package's contents, modes and Depends (dpkg-deb -c, -f)", r.contents),
                         ("dpkg -i (twice): the poplar system user, /etc/poplar 0750 root:poplar, poplar --version",
                          r.install),
                         ("systemd-analyze verify and security on the installed units", r.verify_units),
                         ("a node and a coordinator of the installed binary as poplar, in the units' sandbox", r.serve),
                         ("dpkg --purge", r.purge)]:
            if not r.step(name, fn):
                break
    finally:
        r.cleanup()
    print(f"{r.passed} passed, {r.failed} failed ({time.time() - started:.0f} s)")
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main())
