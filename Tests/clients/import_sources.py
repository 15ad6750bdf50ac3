#!/usr/bin/env python3
"""`poplar import` against data written by the real programs (issue 16 item 1, docs/migration.md).

A private Dovecot (its own config, base and state directories under a temporary directory, POP3 and LMTP on
127.0.0.1 high ports) receives mail over LMTP and writes its Maildirs; clients fetch with POP3 ("leave mail on
server"), so Dovecot assigns the UIDLs and writes dovecot-uidlist; Dovecot's UIDL answer is the truth. Then:

- `poplar import maildir` of one Maildir: Poplar's node serves the identical UIDL list, message for message; the
  same for a Maildir Courier's own pop3d listed (it writes courierpop3dsizelist);
- `poplar import pop3` from the live Dovecot: the same, Dovecot keeps every message, a second run brings nothing,
  a message that arrives at Dovecot later comes with the third;
- fetchmail --keep (with its UIDL file) and mpop (uidls_file), which had fetched everything from Dovecot, pointed at
  Poplar: nothing is downloaded again; a message delivered to Poplar afterwards is the only one downloaded;
- `poplar import mbox` of the mbox mpop wrote; `poplar import win2003` of a copied Windows 2003 mail root with a
  password CSV; the sources' files are unchanged by every import;
- an import killed with SIGKILL halfway, then run again: every message exactly once, in order; a POP3 source that
  drops the connection mid-import: that account stops (exit 1), the next run brings the rest, no DELE is ever sent.

Started by Tests/run-tests; prints PASS/FAIL per test and "N passed, N failed" last. Every process started here is
stopped here (finally), every wait is bounded.
"""
import argparse
import hashlib
import json
import os
import poplib
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_clients import DOMAIN, Harness, free_port, run_suite, test  # noqa: E402

MAIL_UID = MAIL_GID = 5000
USERS = {"mdir": "mdir-pw", "live": "live pw, with comma", "fm": "fm-pw", "sec": "sec-pw", "sec2": "sec2-pw"}


class Dovecot:
    """Dovecot 2.3 of Debian, as a private instance: nothing of /etc/dovecot is read."""

    def __init__(self, base, cert, key):
        self.cert, self.key = cert, key
        self.dir = os.path.join(base, "dovecot")
        self.proc = None
        self.pop3 = self.lmtp = None

    def home(self, user):
        return os.path.join(self.dir, "home", user)

    def maildir(self, user):
        return os.path.join(self.home(user), "Maildir")

    def start(self):
        for sub in ("base", "state", "log", "home"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        os.chmod(self.dir, 0o755)
        os.chmod(os.path.join(self.dir, "home"), 0o755)
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            for user, pw in USERS.items():
                home = self.home(user)
                os.makedirs(home, exist_ok=True)
                os.chown(home, MAIL_UID, MAIL_GID)
                f.write(f"{user}@{DOMAIN}:{{PLAIN}}{pw}:{MAIL_UID}:{MAIL_GID}::{home}::\n")
        self.pop3, self.pop3s, self.lmtp = free_port(), free_port(), free_port()
        dh = "/usr/share/dovecot/dh.pem"
        d = self.dir
        conf = f"""# written by Tests/clients/import_sources.py: a private Dovecot on 127.0.0.1
instance_name = poplar-import-test
base_dir = {d}/base
state_dir = {d}/state
log_path = {d}/log/dovecot.log
info_log_path = {d}/log/info.log
protocols = pop3 lmtp
listen = 127.0.0.1
ssl = yes
ssl_cert = <{self.cert}
ssl_key = <{self.key}
{f"ssl_dh = <{dh}" if os.path.exists(dh) else ""}
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/passwd
}}
mail_location = maildir:~/Maildir
first_valid_uid = {MAIL_UID}
last_valid_uid = {MAIL_UID}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {self.pop3}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {self.pop3s}
    ssl = yes
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp}
  }}
}}
"""
        self.conf = os.path.join(d, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.log = open(os.path.join(d, "log", "master.out"), "ab")
        self.proc = subprocess.Popen(["dovecot", "-F", "-c", self.conf], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        import socket
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("dovecot exited: " + open(os.path.join(d, "log", "master.out")).read()[-2000:]
                                   + open(os.path.join(d, "log", "dovecot.log")).read()[-2000:] if os.path.exists(os.path.join(d, "log", "dovecot.log")) else "")
            try:
                socket.create_connection(("127.0.0.1", self.pop3), timeout=1).close()
                socket.create_connection(("127.0.0.1", self.pop3s), timeout=1).close()
                socket.create_connection(("127.0.0.1", self.lmtp), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("dovecot did not start within 30 s")

    def deliver(self, user, message: bytes):
        with smtplib.LMTP("127.0.0.1", self.lmtp, timeout=30) as s:
            s.sendmail("sender@example.org", [f"{user}@{DOMAIN}"], message)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def pop3_view(port, user, pw):
    """(UIDL list in message order, message bytes in the same order) as a POP3 client sees them."""
    c = poplib.POP3("127.0.0.1", port, timeout=30)
    try:
        c.user(user)
        c.pass_(pw)
        uidls = [line.decode().split(" ", 1)[1] for line in c.uidl()[1]]
        bodies = [b"\r\n".join(c.retr(i + 1)[1]) for i in range(len(uidls))]
        return uidls, bodies
    finally:
        c.quit()


def message(i, tag):
    body = "".join(f"line {n} of message {i}\n" for n in range(i % 7 + 1))
    extra = ".leading dot\n" if i % 3 == 0 else ""
    return (f"From: sender@example.org\nTo: someone@{DOMAIN}\nSubject: {tag} {i}\nMessage-ID: <{tag}.{i}@example.org>\n\n"
            f"{body}{extra}").encode()


def tree_digest(path):
    """Every file's path, size, mtime and content hash: what "the source is not changed" is checked against."""
    out = []
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            p = os.path.join(root, name)
            st = os.lstat(p)
            with open(p, "rb") as f:
                out.append((os.path.relpath(p, path), st.st_size, st.st_mtime_ns, hashlib.sha256(f.read()).hexdigest()))
    return out


class Env:
    pass


def poplar_import(h, *args, check=True):
    r = h.cli("import", *args, "--json", check=False)
    out = r.stdout.decode(errors="replace").strip().splitlines()
    if check and r.returncode != 0:
        raise AssertionError(f"import {' '.join(args)} exited {r.returncode}: {r.stderr.decode(errors='replace')} {out}")
    return r.returncode, (json.loads(out[-1]) if out else None), r.stderr.decode(errors="replace")


def fetchmail_rc(work, port, user, mbox):
    rc = os.path.join(work, "rc")
    with open(rc, "w") as f:
        f.write(f'set no bouncemail\npoll 127.0.0.1 with proto POP3 service {port} uidl\n'
                f'  user "{user}@{DOMAIN}" there with password "{USERS[user]}" is root here\n'
                f'  options keep sslproto \'\' norewrite mda "cat >> {mbox}"\n')
    os.chmod(rc, 0o600)
    return rc


def run_fetchmail(work, rc):
    return subprocess.run(["fetchmail", "-f", rc, "--idfile", os.path.join(work, "ids"), "--nodetach", "--silent"],
                          capture_output=True, timeout=120, env={**os.environ, "HOME": work, "FETCHMAILHOME": work})


def mpop_conf(work, port, user, mbox):
    conf = os.path.join(work, "mpoprc")
    with open(conf, "w") as f:
        f.write(f"account t\nhost 127.0.0.1\nport {port}\nuser {user}@{DOMAIN}\npassword {USERS[user]}\nauth user\n"
                f"tls off\ndelivery mbox {mbox}\nkeep on\nuidls_file {work}/uidls\n")
    os.chmod(conf, 0o600)
    return conf


def count_from_lines(path):
    data = open(path, "rb").read() if os.path.exists(path) else b""
    return data.startswith(b"From ") + data.count(b"\nFrom ")


def prepare(h):
    """Dovecot up, mail delivered over LMTP, every mailbox fetched once by POP3 clients in leave-on-server mode."""
    e = Env()
    e.dovecot = Dovecot(h.dir, h.cert, h.key)
    h.dovecot = e.dovecot
    e.dovecot.start()
    e.node = h.start_node()
    for user in USERS:
        for i in range(1, 13):
            e.dovecot.deliver(user, message(i, user))
    # The first client sessions: Dovecot assigns UIDs and writes dovecot-uidlist; this is what clients remember.
    e.fm_work = tempfile.mkdtemp(dir=h.dir)
    e.fm_mbox = os.path.join(e.fm_work, "mbox")
    r = run_fetchmail(e.fm_work, fetchmail_rc(e.fm_work, e.dovecot.pop3, "fm", e.fm_mbox))
    assert r.returncode == 0, r.stderr
    # fetchmail's mda appends the messages as they are (no From_ lines).
    assert open(e.fm_mbox, "rb").read().count(b"Subject: fm ") == 12
    e.mpop_work = tempfile.mkdtemp(dir=h.dir)
    e.mpop_mbox = os.path.join(e.mpop_work, "mbox")
    open(e.mpop_mbox, "w").close()
    r = subprocess.run(["mpop", "-C", mpop_conf(e.mpop_work, e.dovecot.pop3, "fm", e.mpop_mbox), "t"], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert count_from_lines(e.mpop_mbox) == 12
    e.truth = {u: pop3_view(e.dovecot.pop3, f"{u}@{DOMAIN}", pw) for u, pw in USERS.items()}
    for u in USERS:
        assert os.path.exists(os.path.join(e.dovecot.maildir(u), "dovecot-uidlist")), u
    for user in ("mdir", "fm"):
        h.cli("mailbox", "add", f"{user}@{DOMAIN}", "--password-stdin", stdin=(USERS[user] + "\n").encode())
    return lambda fn: fn(h, e)


@test
def maildir_written_by_dovecot_imports_with_dovecots_uidls(h, e):
    md = e.dovecot.maildir("mdir")
    before = tree_digest(md)
    rc, out, _ = poplar_import(h, "maildir", md, f"mdir@{DOMAIN}")
    assert out["messages"] == 12 and out["skipped"] == 0 and out["errors"] == 0, out
    uidls, bodies = pop3_view(e.node["port"], f"mdir@{DOMAIN}", USERS["mdir"])
    truth_uidls, truth_bodies = e.truth["mdir"]
    print(f"  Dovecot's UIDLs: {truth_uidls[0]} … {truth_uidls[-1]} ({len(truth_uidls)})", flush=True)
    assert uidls == truth_uidls, (uidls, truth_uidls)
    assert bodies == truth_bodies
    # Again: nothing new; and the Maildir is exactly as it was.
    rc, out, _ = poplar_import(h, "maildir", md, f"mdir@{DOMAIN}")
    assert out["messages"] == 0 and out["skipped"] == 12, out
    assert tree_digest(md) == before
    # Every node serves the kept UIDLs: a second node on the same mail root answers the same.
    n2 = h.start_node(name="n2")
    try:
        assert pop3_view(n2["port"], f"mdir@{DOMAIN}", USERS["mdir"]) == (truth_uidls, truth_bodies)
    finally:
        h.stop_node(n2)
    # The mailbox fetchmail and mpop fetched from Dovecot moves the same way (checked with them below).
    rc, out, _ = poplar_import(h, "maildir", e.dovecot.maildir("fm"), f"fm@{DOMAIN}")
    assert out["messages"] == 12, out
    assert pop3_view(e.node["port"], f"fm@{DOMAIN}", USERS["fm"]) == e.truth["fm"]


@test
def live_pop3_import_keeps_uidls_deletes_nothing_and_resumes(h, e):
    # A fetchmail --keep that fetched everything from the live Dovecot first.
    work = tempfile.mkdtemp(dir=h.dir)
    mbox = os.path.join(work, "mbox")
    r = run_fetchmail(work, fetchmail_rc(work, e.dovecot.pop3, "live", mbox))
    assert r.returncode == 0, r.stderr
    size = os.path.getsize(mbox)
    accounts = os.path.join(h.dir, "accounts.csv")
    with open(accounts, "w") as f:
        f.write(f"# account,password\nlive@{DOMAIN},{USERS['live']}\n")
    rc, out, _ = poplar_import(h, "pop3", "--host", "127.0.0.1", "--port", str(e.dovecot.pop3), "--accounts", accounts)
    assert out["messages"] == 12 and out["errors"] == 0 and out["mailboxes"][0]["created"], out
    assert pop3_view(e.node["port"], f"live@{DOMAIN}", USERS["live"]) == e.truth["live"]
    # Never DELE: Dovecot still serves all of them.
    assert pop3_view(e.dovecot.pop3, f"live@{DOMAIN}", USERS["live"]) == e.truth["live"]
    rc, out, _ = poplar_import(h, "pop3", "--host", "127.0.0.1", "--port", str(e.dovecot.pop3), "--accounts", accounts)
    assert out["messages"] == 0 and out["skipped"] == 12 and not out["mailboxes"][0]["created"], out
    e.dovecot.deliver("live", message(13, "live"))
    rc, out, _ = poplar_import(h, "pop3", "--host", "127.0.0.1", "--port", str(e.dovecot.pop3), "--accounts", accounts)
    assert out["messages"] == 1 and out["skipped"] == 12, out
    assert pop3_view(e.node["port"], f"live@{DOMAIN}", USERS["live"]) == pop3_view(e.dovecot.pop3, f"live@{DOMAIN}", USERS["live"])
    # The same fetchmail, now polling Poplar: only the 13th message is new to it.
    r = run_fetchmail(work, fetchmail_rc(work, e.node["port"], "live", mbox))
    assert r.returncode == 0, r.stderr
    new = open(mbox, "rb").read()[size:]
    assert new.count(b"Subject: live ") == 1 and b"Subject: live 13" in new, new[:300]


@test
def live_pop3_import_over_tls_and_stls_verifies_the_certificate(h, e):
    def accounts(user):
        path = os.path.join(h.dir, f"accounts-{user}.csv")
        with open(path, "w") as f:
            f.write(f"{user}@{DOMAIN},{USERS[user]}\n")
        return path
    # The test certificate is self-signed: without --ca-file it is not trusted, and nothing is imported.
    rc, out, _ = poplar_import(h, "pop3", "--host", "localhost", "--port", str(e.dovecot.pop3s), "--tls",
                               "--accounts", accounts("sec"), check=False)
    assert rc == 1 and out["messages"] == 0 and "certificate" in (out["mailboxes"][0]["failure"] or "").lower(), out
    rc, out, _ = poplar_import(h, "pop3", "--host", "localhost", "--port", str(e.dovecot.pop3s), "--tls", "--ca-file", h.cert,
                               "--accounts", accounts("sec"))
    assert out["messages"] == 12 and out["errors"] == 0, out
    assert pop3_view(e.node["port"], f"sec@{DOMAIN}", USERS["sec"]) == e.truth["sec"]
    rc, out, _ = poplar_import(h, "pop3", "--host", "localhost", "--port", str(e.dovecot.pop3), "--stls", "--ca-file", h.cert,
                               "--accounts", accounts("sec2"))
    assert out["messages"] == 12 and out["errors"] == 0, out
    assert pop3_view(e.node["port"], f"sec2@{DOMAIN}", USERS["sec2"]) == e.truth["sec2"]
    rc, out, _ = poplar_import(h, "pop3", "--host", "127.0.0.1", "--port", str(e.dovecot.pop3), "--stls", "--insecure",
                               "--accounts", accounts("sec2"))
    assert out["messages"] == 0 and out["skipped"] == 12, out


@test
def fetchmail_keep_downloads_nothing_again_after_the_move(h, e):
    # The same fetchmail (same id file, same poll name), now polling Poplar, where `fm` was imported from Dovecot.
    size = os.path.getsize(e.fm_mbox)
    rc = fetchmail_rc(e.fm_work, e.node["port"], "fm", e.fm_mbox)
    r = run_fetchmail(e.fm_work, rc)
    assert r.returncode in (0, 1), r.stderr  # 1: no new mail
    assert os.path.getsize(e.fm_mbox) == size, "fetchmail downloaded again after the move"
    path = os.path.join(h.dir, "new.eml")
    with open(path, "wb") as f:
        f.write(b"Subject: after the move\n\nonly this one\n")
    h.cli("deliver", f"fm@{DOMAIN}", path)
    r = run_fetchmail(e.fm_work, rc)
    assert r.returncode == 0, r.stderr
    new = open(e.fm_mbox, "rb").read()[size:]
    assert new.count(b"Subject: ") == 1 and b"only this one" in new, new[:300]


@test
def mpop_downloads_nothing_again_after_the_move(h, e):
    size = os.path.getsize(e.mpop_mbox)
    conf = mpop_conf(e.mpop_work, e.node["port"], "fm", e.mpop_mbox)
    r = subprocess.run(["mpop", "-C", conf, "t"], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    new = open(e.mpop_mbox, "rb").read()[size:]
    # Only the message delivered to Poplar after the move (previous test) is new to mpop.
    assert new.count(b"\nSubject: ") + new.startswith(b"Subject: ") <= 1 and b"Subject: fm " not in new, new[:400]


@test
def mbox_written_by_mpop_imports(h, e):
    h.cli("mailbox", "add", f"mboxed@{DOMAIN}", "--password-stdin", stdin=b"mboxed-pw\n")
    before = tree_digest(e.mpop_work)
    rc, out, _ = poplar_import(h, "mbox", e.mpop_mbox, f"mboxed@{DOMAIN}")
    n = count_from_lines(e.mpop_mbox)
    assert out["messages"] == n and out["errors"] == 0, out
    rc, out, _ = poplar_import(h, "mbox", e.mpop_mbox, f"mboxed@{DOMAIN}")
    assert out["messages"] == 0 and out["skipped"] == n, out
    assert tree_digest(e.mpop_work) == before
    c = poplib.POP3("127.0.0.1", e.node["port"], timeout=30)
    c.user(f"mboxed@{DOMAIN}")
    c.pass_("mboxed-pw")
    subjects = [next(l for l in c.top(i + 1, 0)[1] if l.startswith(b"Subject: ")) for i in range(n)]
    c.quit()
    assert subjects[:12] == [f"Subject: fm {i}".encode() for i in range(1, 13)], subjects


@test
def win2003_mail_root_imports_with_passwords(h, e):
    root = os.path.join(h.dir, "win2003")
    names = ["P3_20031105120000000000010001.eml", "P3_20031105120000000000010002.eml"]
    for box in ("P3_winuser.mbx", "P3_nopass.mbx"):
        os.makedirs(os.path.join(root, "legacy.test", box))
        open(os.path.join(root, "legacy.test", box, "lock"), "w").close()
        for i, name in enumerate(names):
            with open(os.path.join(root, "legacy.test", box, name), "wb") as f:
                f.write(f"Subject: legacy {i}\r\n\r\nfrom Windows\r\n".encode())
    csv = os.path.join(h.dir, "win-passwords.csv")
    with open(csv, "w") as f:
        f.write("winuser@legacy.test,win-pw\n")
    before = tree_digest(root)
    rc, out, _ = poplar_import(h, "win2003", root, "--passwords", csv)
    assert out["messages"] == 4 and out["errors"] == 0, out
    assert tree_digest(root) == before
    uidls, bodies = pop3_view(e.node["port"], "winuser@legacy.test", "win-pw")
    assert uidls == [n[3:-4] for n in names], uidls
    c = poplib.POP3("127.0.0.1", e.node["port"], timeout=30)
    c.user("nopass@legacy.test")
    try:
        c.pass_("")
        raise AssertionError("a mailbox made without a password let someone in")
    except poplib.error_proto:
        pass
    finally:
        c.close()
    rc, out, _ = poplar_import(h, "win2003", root)
    assert out["messages"] == 0 and out["skipped"] == 4, out
    # The operator gives the mailbox made without a password one later, the usual way.
    h.cli("mailbox", "passwd", "nopass@legacy.test", "--password-stdin", stdin=b"given-later\n")
    assert pop3_view(e.node["port"], "nopass@legacy.test", "given-later")[0] == [n[3:-4] for n in names]


@test
def killed_import_resumes_without_duplicates(h, e):
    """kill -9 in the middle of an import; the next run brings the rest, each message exactly once, fsck is clean."""
    md = os.path.join(h.dir, "big-maildir")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, sub))
    n = 1500
    for i in range(n):
        with open(os.path.join(md, "cur", f"{1733400000 + i}.M{i}P7.host:2,S"), "wb") as f:
            f.write(message(i, "big") + b"x" * 3000 + b"\n")
    with open(os.path.join(md, "dovecot-uidlist"), "w") as f:
        f.write("3 V1733409999 N%d\n" % (n + 1) + "".join(f"{i + 1} :{1733400000 + i}.M{i}P7.host\n" for i in range(n)))
    h.cli("mailbox", "add", f"big@{DOMAIN}", "--password-stdin", stdin=b"big-pw\n")
    proc = subprocess.Popen([h.poplar, "import", "maildir", md, f"big@{DOMAIN}", "--root", h.root, "--guid-file", h.guid, "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    mbx = os.path.join(h.root, DOMAIN, "P3_big.mbx")
    deadline = time.time() + 60
    while time.time() < deadline:
        count = len([x for x in os.listdir(mbx) if x.endswith(".eml")])
        if count >= 100 or proc.poll() is not None:
            break
        time.sleep(0.01)
    proc.kill()
    proc.communicate(timeout=30)
    first = len([x for x in os.listdir(mbx) if x.endswith(".eml")])
    assert 0 < first < n, f"the kill came at {first} of {n}: not in the middle"
    rc, out, _ = poplar_import(h, "maildir", md, f"big@{DOMAIN}")
    assert out["messages"] + out["skipped"] == n and out["skipped"] == first, (first, out)
    c = poplib.POP3("127.0.0.1", e.node["port"], timeout=60)
    c.user(f"big@{DOMAIN}")
    c.pass_("big-pw")
    uidls = [line.decode().split(" ", 1)[1] for line in c.uidl()[1]]
    c.quit()
    assert uidls == ["%08x%08x" % (i + 1, 1733409999) for i in range(n)], "UIDLs missing, doubled or out of order"
    r = h.cli("fsck", f"big@{DOMAIN}", "--json", check=False)
    report = json.loads(r.stdout.decode().strip().splitlines()[-1])
    assert report["checked"]["messages"] == n, report
    # A writer killed mid-message leaves at most its file in tmp/ (fsck removes such files once old): never a message.
    assert all("tmp/" in f["where"] for f in report["findings"]), report


@test
def a_source_that_drops_the_connection_stops_that_account_and_the_next_run_goes_on(h, e):
    """A POP3 server of our own that closes the connection at the third RETR of its first session."""
    msgs = [(f"drop-{i}", f"Subject: dropped {i}\r\n\r\nbody {i}\r\n".encode()) for i in range(6)]
    state = {"session": -1, "retrs": 0}

    def script(verb, args, write):
        if verb == "USER":
            state["session"] += 1
            state["retrs"] = 0
        if verb in ("USER", "PASS", "QUIT"):
            write(b"+OK\r\n")
            return verb != "QUIT"
        if verb == "UIDL":
            write(b"+OK\r\n" + b"".join(f"{i + 1} {u}\r\n".encode() for i, (u, _) in enumerate(msgs)) + b".\r\n")
        elif verb == "LIST":
            write(b"+OK\r\n" + b"".join(f"{i + 1} {len(m)}\r\n".encode() for i, (_, m) in enumerate(msgs)) + b".\r\n")
        elif verb == "RETR":
            state["retrs"] += 1
            if state["session"] == 0 and state["retrs"] == 3:
                return False  # hangs up in the middle of the first run
            write(b"+OK\r\n" + msgs[int(args) - 1][1] + b".\r\n")
        else:
            write(b"-ERR this test server answers only what an import needs\r\n")

    port, t, received = fake_pop3(script, sessions=2)
    try:
        accounts = os.path.join(h.dir, "drop.csv")
        with open(accounts, "w") as f:
            f.write(f"dropped@{DOMAIN},dropped-pw\n")
        rc, out, _ = poplar_import(h, "pop3", "--host", "127.0.0.1", "--port", str(port), "--accounts", accounts, check=False)
        assert rc == 1 and out["messages"] == 2 and "lost" in out["mailboxes"][0]["failure"], out
        rc, out, _ = poplar_import(h, "pop3", "--host", "127.0.0.1", "--port", str(port), "--accounts", accounts)
        assert out["messages"] == 4 and out["skipped"] == 2, out
        uidls, bodies = pop3_view(e.node["port"], f"dropped@{DOMAIN}", "dropped-pw")
        assert uidls == [u for u, _ in msgs] and bodies == [m.rstrip(b"\r\n") for _, m in msgs], (uidls, bodies)
        assert not [c for c in received if c[0].upper() == "DELE"], received
    finally:
        t.join(timeout=10)


COURIER_POP3D = "/usr/lib/courier/courier/courierpop3d"


def courier_pop3d(h):
    """Courier's pop3d binary and the environment it needs. Debian's courier-pop conflicts with dovecot-pop3d (both
    are the pop3-server), so unless it is installed, it and its libraries (courier-authlib, libcourier-unicode4) are
    fetched with apt-get download and unpacked here, never installed (no daemon of theirs starts)."""
    if os.path.exists(COURIER_POP3D):
        return COURIER_POP3D, {}
    work = os.path.join(h.dir, "courier-deb")
    os.makedirs(work, exist_ok=True)
    r = subprocess.run(["apt-get", "download", "courier-pop", "courier-authlib", "libcourier-unicode4"], cwd=work,
                       capture_output=True, timeout=300)
    debs = [f for f in os.listdir(work) if f.endswith(".deb")]
    if r.returncode != 0 or len(debs) < 3:
        return None, {}
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", deb, "root"], cwd=work, check=True, timeout=120)
    root = os.path.join(work, "root")
    path = os.path.join(root, COURIER_POP3D.lstrip("/"))
    libs = ":".join(os.path.join(root, d) for d in ("lib", "usr/lib", "usr/lib/x86_64-linux-gnu", "usr/lib/courier-authlib"))
    return (path, {"LD_LIBRARY_PATH": libs}) if os.path.exists(path) else (None, {})


def courier_session(pop3d, maildir, commands):
    """Courier's own pop3d, as its login hands over to it (already authenticated, in the Maildir): the answers."""
    binary, extra_env = pop3d
    r = subprocess.run([binary, maildir], input="".join(c + "\r\n" for c in commands + ["QUIT"]).encode(),
                       capture_output=True, timeout=60, cwd=os.path.dirname(maildir),
                       env={"PATH": "/usr/bin:/bin", "AUTHENTICATED": f"courier@{DOMAIN}", "TCPREMOTEIP": "127.0.0.1",
                            "TCPREMOTEPORT": "1", **extra_env})
    assert r.returncode == 0, r.stderr
    return r.stdout


@test
def maildir_written_by_courier_imports_with_couriers_uidls(h, e):
    pop3d = courier_pop3d(h)
    if not pop3d[0]:
        return "skip Courier's pop3d is neither installed nor downloadable (apt-get download courier-pop)"
    md = os.path.join(h.dir, "courier", "Maildir")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, sub))
    for i in range(1, 9):
        with open(os.path.join(md, "new", f"{1733400000 + i}.M{i}P42.host"), "wb") as f:
            f.write(message(i, "courier"))
    # Courier's pop3d lists the mailbox: it moves new/ to cur/, numbers the messages and writes courierpop3dsizelist.
    out = courier_session(pop3d, md, ["UIDL"]).decode()
    lines = out.split("\r\n")
    start = lines.index("+OK", 1)
    truth = [l.split(" ", 1)[1] for l in lines[start + 1:lines.index(".", start)]]
    assert len(truth) == 8 and all(u.startswith("UID") for u in truth), out
    assert os.path.exists(os.path.join(md, "courierpop3dsizelist"))
    h.cli("mailbox", "add", f"courier@{DOMAIN}", "--password-stdin", stdin=b"courier-pw\n")
    before = tree_digest(md)
    rc, out, _ = poplar_import(h, "maildir", md, f"courier@{DOMAIN}")
    assert out["messages"] == 8 and out["errors"] == 0, out
    assert tree_digest(md) == before
    uidls, bodies = pop3_view(e.node["port"], f"courier@{DOMAIN}", "courier-pw")
    assert uidls == truth, (uidls, truth)
    # The bytes too: Courier's RETR of each message against Poplar's.
    answer = courier_session(pop3d, md, [f"RETR {i}" for i in range(1, 9)])
    for i, body in enumerate(bodies):
        stuffed = b"\r\n".join(b"." + l if l.startswith(b".") else l for l in body.split(b"\r\n"))
        assert stuffed + b"\r\n.\r\n" in answer, i


def fake_pop3(script, sessions=1):
    """A POP3 server of the test's own on 127.0.0.1 for `sessions` sessions, one after the other: `script(verb, args,
    write)` answers each command (returns False to hang up). Returns (port, thread, received commands)."""
    import socket
    import threading
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(sessions)
    srv.settimeout(30)
    port = srv.getsockname()[1]
    received = []

    def serve():
        try:
            for _ in range(sessions):
                try:
                    conn, _ = srv.accept()
                except OSError:
                    return
                conn.settimeout(30)
                f = conn.makefile("rwb")
                try:
                    f.write(b"+OK fake\r\n")
                    f.flush()
                    for raw in f:
                        parts = raw.decode(errors="replace").strip().split(" ", 1)
                        received.append(parts)
                        if script(parts[0].upper(), parts[1] if len(parts) > 1 else "", f.write) is False:
                            break
                        f.flush()
                except OSError:
                    pass
                finally:
                    # Really hung up: the file object keeps the socket open until it is closed as well.
                    for close in (lambda: conn.shutdown(socket.SHUT_RDWR), f.close):
                        try:
                            close()
                        except OSError:
                            pass
                    conn.close()
        finally:
            srv.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return port, t, received


@test
def a_hostile_source_is_bounded(h, e):
    """Lines over 64 KiB and unasked floods end that account with a clear error; memory stays bounded; nothing is
    written for it; --source-user local logs in with the part before @."""
    accounts = os.path.join(h.dir, "hostile.csv")
    with open(accounts, "w") as f:
        f.write(f"hostile@{DOMAIN},hostile-pw\n")

    def long_line(verb, args, write):
        if verb in ("USER", "PASS"):
            write(b"+OK\r\n")
        elif verb == "UIDL":
            write(b"+OK\r\n1 " + b"u" * 200_000 + b"\r\n.\r\n")
        else:
            write(b"-ERR no\r\n")

    port, t, received = fake_pop3(long_line)
    rc, out, _ = poplar_import(h, "pop3", "--host", "127.0.0.1", "--port", str(port), "--accounts", accounts,
                               "--source-user", "local", check=False)
    t.join(timeout=30)
    assert rc == 1 and "longer than" in out["mailboxes"][0]["failure"], out
    assert ["USER", "hostile"] in received, received

    def flood(verb, args, write):
        if verb in ("USER", "PASS"):
            write(b"+OK\r\n")
        elif verb == "UIDL":
            write(b"+OK\r\n1 a\r\n.\r\n")
        elif verb == "LIST":
            write(b"+OK\r\n1 10\r\n.\r\n")
        elif verb == "RETR":
            # Never the end of the answer: lines without end, past the message limit.
            chunk = (b"x" * 1000 + b"\r\n") * 1000
            try:
                write(b"+OK here it comes\r\n")
                for _ in range(400):
                    write(chunk)
            except OSError:
                pass
            return False
        else:
            write(b"+OK\r\n")

    port, t, received = fake_pop3(flood)
    proc = subprocess.Popen([h.poplar, "import", "pop3", "--host", "127.0.0.1", "--port", str(port), "--accounts", accounts,
                             "--root", h.root, "--guid-file", h.guid, "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/status") as st:
                for line in st:
                    if line.startswith("VmRSS:"):
                        peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.02)
    out, err = proc.communicate(timeout=60)
    t.join(timeout=30)
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert proc.returncode == 1 and result["messages"] == 0, (result, err)
    failure = result["mailboxes"][0]["failure"] or ""
    assert "lost" in failure or "longer than" in failure, result
    # 400 MB were offered; what the import holds is one message at most (256 MiB) and a megabyte or so unread (reading
    # stops above it): with the process's own ~50 MiB, well under 420 MiB.
    assert peak < 420 * 1024, f"peak RSS {peak} KiB"
    print(f"  flood of 400 MB: ended with \"{failure[:80]}\", peak RSS {peak // 1024} MiB", flush=True)


@test
def progress_bar_only_on_a_terminal(h, e):
    md = os.path.join(h.dir, "progress-maildir")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, sub))
    for i in range(50):
        with open(os.path.join(md, "new", f"{1733500000 + i}.M{i}P8.host"), "wb") as f:
            f.write(message(i, "progress"))
    h.cli("mailbox", "add", f"progress@{DOMAIN}", "--password-stdin", stdin=b"progress-pw\n")
    # Not a terminal (a pipe): no progress line, only the summary.
    r = h.cli("import", "maildir", md, f"progress@{DOMAIN}")
    assert b"\r" not in r.stderr and b"[#" not in r.stderr, r.stderr
    assert b"imported 50 messages" in r.stdout, r.stdout
    # A terminal (script gives the command a pty): the bar, then the summary.
    cmd = " ".join([h.poplar, "import", "maildir", md, f"progress@{DOMAIN}", "--root", h.root, "--guid-file", h.guid])
    typescript = os.path.join(h.dir, "typescript")
    shutil.rmtree(os.path.join(h.root, DOMAIN, "P3_progress.mbx"), ignore_errors=True)
    h.cli("mailbox", "add", f"progress@{DOMAIN}", "--password-stdin", stdin=b"progress-pw\n")
    subprocess.run(["script", "-qc", cmd, typescript], capture_output=True, timeout=120, check=True)
    shown = open(typescript, "rb").read()
    assert b"progress@example.test [########################] 50/50" in shown, shown[-400:]
    assert b"imported 50 messages" in shown


@test
def bad_maildir_input_is_a_clear_error(h, e):
    rc, out, err = poplar_import(h, "maildir", os.path.join(h.dir, "no-such-maildir"), f"mdir@{DOMAIN}", check=False)
    assert rc == 2 and "not a Maildir" in err, (rc, err)
    rc, out, err = poplar_import(h, "maildir", e.dovecot.maildir("mdir"), f"nobody@{DOMAIN}", check=False)
    assert rc == 2 and "no mailbox" in err, (rc, err)
    rc, out, err = poplar_import(h, "maildir", e.dovecot.maildir("mdir"), f"mdir@{DOMAIN}", "--uidl-format", "%m", check=False)
    assert rc == 2 and "%m" in err, (rc, err)


@test
def bad_mbox_and_pop3_input_is_a_clear_error(h, e):
    notmbox = os.path.join(h.dir, "not-an-mbox")
    with open(notmbox, "w") as f:
        f.write("Subject: hello\n\nx\n")
    rc, out, err = poplar_import(h, "mbox", notmbox, f"mdir@{DOMAIN}", check=False)
    assert rc == 2 and "not an mbox" in err, (rc, err)
    accounts = os.path.join(h.dir, "bad-accounts.csv")
    with open(accounts, "w") as f:
        f.write(f"live@{DOMAIN},wrong password\n")
    rc, out, err = poplar_import(h, "pop3", "--host", "127.0.0.1", "--port", str(e.dovecot.pop3), "--accounts", accounts, check=False)
    assert rc == 1 and out["mailboxes"][0]["failure"] and "wrong password" not in json.dumps(out), (rc, out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--poplar", required=True)
    ap.add_argument("-k", dest="pattern")
    args = ap.parse_args()
    if not shutil.which("dovecot"):
        print("SKIP import_sources: dovecot is not installed (apt-get install dovecot-core dovecot-pop3d dovecot-lmtpd)")
        print("0 passed, 0 failed")
        return 0
    h = Harness(os.path.abspath(args.poplar))
    h.dovecot = None
    original_teardown = h.teardown

    def teardown():
        try:
            if h.dovecot:
                h.dovecot.stop()
        finally:
            original_teardown()
    h.teardown = teardown
    tests = [maildir_written_by_dovecot_imports_with_dovecots_uidls, live_pop3_import_keeps_uidls_deletes_nothing_and_resumes,
             live_pop3_import_over_tls_and_stls_verifies_the_certificate, killed_import_resumes_without_duplicates,
             a_source_that_drops_the_connection_stops_that_account_and_the_next_run_goes_on,
             maildir_written_by_courier_imports_with_couriers_uidls, a_hostile_source_is_bounded, progress_bar_only_on_a_terminal,
             fetchmail_keep_downloads_nothing_again_after_the_move, mpop_downloads_nothing_again_after_the_move,
             mbox_written_by_mpop_imports, win2003_mail_root_imports_with_passwords, bad_maildir_input_is_a_clear_error,
             bad_mbox_and_pop3_input_is_a_clear_error]
    return run_suite(h, tests, args.pattern, lambda: prepare(h), 300)


if __name__ == "__main__":
    sys.exit(main())
