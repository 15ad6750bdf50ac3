"""The two servers under test, started and stopped by cluster/bench/pop3_bench.py on 127.0.0.1.

Poplar: `poplar node` (POP3 and POP3S) and `poplar coordinator` (LMTP) over the generated mail root, with
Poplar's production defaults except --max-connections (raised from 10,000 to 12,000 so that the idle scenario
is not cut at exactly its target) and --log-level warning.

Dovecot (Debian's 2.3 packages): its own config file, base_dir, state_dir and logs under the work directory,
its own ports on 127.0.0.1, passwd-file passdb (SHA512-CRYPT) and userdb (virtual uid/gid 5000), maildir,
auth cache on. Process and client limits are raised for the idle scenario. Two profiles:
- tuned (default): also Dovecot's documented performance settings: pop3-login in high-performance mode
  (service_count = 0, process_min_avail = 1, one login process serving many clients), pop3 processes reused
  for up to 100 sessions (service_count = 100; safe here since every user has the same uid),
  pop3_fast_size_lookups = yes, info log to /dev/null.
- fast (issue 19's reference): tuned, and what makes Dovecot cheapest per session: passwd-file with the PLAIN
  scheme (no hash at all; written as <run>/dovecot/passwd.plain from the users files), auth_failure_delay = 0,
  pop3-login with process_min_avail = 2 and client_limit = 5000.
- stock: Debian's defaults (a login process and a pop3 process per connection) with only the limits raised.
Every setting is written to <run>/dovecot.conf and printed by the benchmark.

Poplar over NFS (the typical-nfs row): an nfs-ganesha on 127.0.0.1 (cluster/nfs/start-ganesha.sh) exporting
Poplar's generated mail root itself, and a second `poplar node` with --root nfs://…, both pinned to the server
core. Its server CPU and memory are the node's and ganesha's together.
"""
import os
import shutil
import signal
import socket
import subprocess
import time

MAIL_UID = 5000


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, seconds=60, proc=None):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before port {port} opened")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} never opened")


def stop_processes(procs, timeout):
    """SIGTERM every live process of procs (None entries are skipped), all before waiting for any, so they shut
    down together; then wait up to timeout seconds for each, SIGKILLing (and reaping) one that is still there."""
    procs = [p for p in procs if p is not None]
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def clean_env():
    return {k: v for k, v in os.environ.items() if not k.startswith("POPLAR_")}


class Poplar:
    name = "poplar"

    def __init__(self, binary, data, run_dir, core):
        self.binary = binary
        self.data = data
        self.run_dir = run_dir
        self.core = core
        self.node = None
        self.coord = None
        self.pop3_port = self.pop3s_port = self.lmtp_port = None
        self.settings = []

    def reset_state(self):
        """Before a start: no lock left held by a killed run, the LMTP mailboxes empty."""
        root = os.path.join(self.data, "poplar", "bench.test")
        for box in os.listdir(root):
            d = os.path.join(root, box)
            names = os.listdir(d)
            held = [n for n in names if n == "kcol" or n.startswith("kcol.")]
            for n in held:
                os.unlink(os.path.join(d, n))
            if held and "lock" not in names:
                open(os.path.join(d, "lock"), "wb").close()
            if box.startswith("P3_lmtp"):
                for n in names:
                    if n.endswith(".eml"):
                        os.unlink(os.path.join(d, n))
        shutil.rmtree(os.path.join(self.run_dir, "spool"), ignore_errors=True)
        os.makedirs(os.path.join(self.run_dir, "spool"), exist_ok=True)

    def start(self):
        self.reset_state()
        self.pop3_port, self.pop3s_port, self.lmtp_port = free_port(), free_port(), free_port()
        common = ["--root", os.path.join(self.data, "poplar"), "--guid-file", os.path.join(self.data, "guid")]
        node = [self.binary, "node", *common, "--listen", f"127.0.0.1:{self.pop3_port}",
                "--tls-listen", f"127.0.0.1:{self.pop3s_port}", "--cert", os.path.join(self.data, "cert.pem"),
                "--key", os.path.join(self.data, "key.pem"), "--node-id", "bench1", "--max-connections", "12000",
                "--log-level", "warning"]
        coord = [self.binary, "coordinator", *common, "--lmtp", f"127.0.0.1:{self.lmtp_port}", "--hostname", "bench.test",
                 "--spool", os.path.join(self.run_dir, "spool"), "--log-level", "warning"]
        self.settings = [" ".join(node[1:]), " ".join(coord[1:])]
        self.node_log = open(os.path.join(self.run_dir, "poplar-node.log"), "ab")
        self.coord_log = open(os.path.join(self.run_dir, "poplar-coordinator.log"), "ab")
        self.node = subprocess.Popen(["taskset", "-c", str(self.core), *node], stdout=self.node_log, stderr=subprocess.STDOUT,
                                     env=clean_env())
        self.coord = subprocess.Popen(["taskset", "-c", str(self.core), *coord], stdout=self.coord_log, stderr=subprocess.STDOUT,
                                      env=clean_env())
        wait_port(self.pop3_port, proc=self.node)
        wait_port(self.pop3s_port, proc=self.node)
        wait_port(self.lmtp_port, proc=self.coord)

    def pop3_pids(self):
        return [self.node.pid]

    def lmtp_pids(self):
        return [self.coord.pid]

    def stop(self):
        stop_processes((self.node, self.coord), 40)
        self.node = self.coord = None


class PoplarNFS(Poplar):
    """A Poplar node whose mail root is the same generated store, reached over NFS through a ganesha of its own."""
    name = "poplar-nfs"

    def __init__(self, binary, data, run_dir, core):
        super().__init__(binary, data, run_dir, core)
        self.ganesha_pid = None

    def start(self):
        here = os.path.dirname(os.path.abspath(__file__))
        gdir = os.path.join(self.run_dir, "ganesha")
        shutil.rmtree(gdir, ignore_errors=True)
        os.makedirs(gdir)
        export = os.path.join(self.data, "poplar")
        nfsport, mountport = free_port(), free_port()
        r = subprocess.run(["taskset", "-c", str(self.core), "bash", os.path.join(here, "..", "nfs", "start-ganesha.sh"), gdir,
                            export, str(nfsport), str(mountport)], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"ganesha did not start: {r.stderr}")
        url = r.stdout.strip()
        self.ganesha_pid = int(open(os.path.join(gdir, "ganesha.pid")).read())
        self.pop3_port = free_port()
        node = [self.binary, "node", "--root", url, "--guid-file", os.path.join(self.data, "guid"),
                "--listen", f"127.0.0.1:{self.pop3_port}", "--node-id", "bench-nfs", "--log-level", "warning"]
        self.settings = [" ".join(node[1:])]
        self.node_log = open(os.path.join(self.run_dir, "poplar-nfs-node.log"), "ab")
        self.node = subprocess.Popen(["taskset", "-c", str(self.core), *node], stdout=self.node_log, stderr=subprocess.STDOUT,
                                     env=clean_env())
        wait_port(self.pop3_port, proc=self.node)

    def pop3_pids(self):
        return [self.node.pid, self.ganesha_pid]

    def stop(self):
        super().stop()
        if self.ganesha_pid:
            try:
                os.kill(self.ganesha_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self.ganesha_pid = None


class Dovecot:
    name = "dovecot"

    def __init__(self, data, run_dir, core, profile="tuned", max_conns=12000):
        self.data = data
        self.run_dir = os.path.join(run_dir, "dovecot")
        self.core = core
        self.profile = profile
        self.max_conns = max_conns
        self.master = None
        self.conf = os.path.join(self.run_dir, "dovecot.conf")
        self.pop3_port = self.pop3s_port = self.lmtp_port = None
        self.settings = []

    def write_config(self):
        r = self.run_dir
        for sub in ("base", "state", "log"):
            os.makedirs(os.path.join(r, sub), exist_ok=True)
        n = self.max_conns
        fast = self.profile == "fast"
        tuned = self.profile in ("tuned", "fast")
        passwd = f"{self.data}/passwd.dovecot"
        scheme = "SHA512-CRYPT"
        if fast:
            passwd, scheme = self.write_plain_passwd(), "PLAIN"
        dh = "/usr/share/dovecot/dh.pem"
        lines = [
            "# written by cluster/bench/servers.py: Dovecot under benchmark, loopback only",
            f"instance_name = poplar-bench",
            f"base_dir = {r}/base",
            f"state_dir = {r}/state",
            f"log_path = {r}/log/dovecot.log",
            f"info_log_path = {'/dev/null' if tuned else r + '/log/info.log'}",
            "protocols = pop3 lmtp",
            "listen = 127.0.0.1",
            "ssl = yes",
            f"ssl_cert = <{self.data}/cert.pem",
            f"ssl_key = <{self.data}/key.pem",
            *( [f"ssl_dh = <{dh}"] if os.path.exists(dh) else [] ),
            "disable_plaintext_auth = no",
            "auth_mechanisms = plain login",
            "# auth cache on (Debian ships it off)",
            "auth_cache_size = 64M",
            "auth_cache_ttl = 1 hour",
            "auth_cache_negative_ttl = 1 hour",
            *( ["auth_failure_delay = 0"] if fast else [] ),
            "passdb {",
            "  driver = passwd-file",
            f"  args = scheme={scheme} username_format=%u {passwd}",
            "}",
            "userdb {",
            "  driver = passwd-file",
            f"  args = username_format=%u {passwd}",
            "}",
            "mail_location = maildir:~/Maildir",
            f"first_valid_uid = {MAIL_UID}",
            f"last_valid_uid = {MAIL_UID}",
            "mail_fsync = optimized",
            *( ["pop3_fast_size_lookups = yes"] if tuned else [] ),
            "protocol pop3 {",
            f"  mail_max_userip_connections = {n}",
            "}",
            "# limits raised so that 10,000+ sessions are possible",
            "default_process_limit = 500",
            "# (RLIMIT_NPROC here is 96,365: Dovecot sets it to the sum of the process limits, so only pop3 gets n)",
            f"default_client_limit = {n}",
            "default_vsz_limit = 1G",
            "service pop3-login {",
            "  inet_listener pop3 {",
            "    address = 127.0.0.1",
            f"    port = {self.pop3_port}",
            "  }",
            "  inet_listener pop3s {",
            "    address = 127.0.0.1",
            f"    port = {self.pop3s_port}",
            "    ssl = yes",
            "  }",
            *( ["  service_count = 0", "  process_min_avail = 2", f"  client_limit = {min(n, 5000)}", "  process_limit = 16"] if fast else
               ["  service_count = 0", "  process_min_avail = 1", f"  client_limit = {n}", "  process_limit = 16"] if tuned else
               [f"  process_limit = {n}"] ),
            "}",
            "service pop3 {",
            f"  process_limit = {n}",
            *( ["  service_count = 100", "  process_min_avail = 1"] if tuned else [] ),
            "}",
            "service lmtp {",
            "  inet_listener lmtp {",
            "    address = 127.0.0.1",
            f"    port = {self.lmtp_port}",
            "  }",
            "  process_limit = 64",
            "}",
            "service imap-login {",
            "  inet_listener imap {",
            "    port = 0",
            "  }",
            "  inet_listener imaps {",
            "    port = 0",
            "  }",
            "}",
            "service anvil {",
            f"  client_limit = {n + 100}",
            "}",
            "service stats {",
            f"  client_limit = {n + 100}",
            "}",
            "service log {",
            f"  client_limit = {n + 100}",
            "}",
            "service auth {",
            f"  client_limit = {n + 100}",
            "}",
            "",
        ]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines))
        self.settings = [l for l in lines if not l.startswith("#")]

    def write_plain_passwd(self):
        """passwd.dovecot with each password in the clear ({PLAIN}), from the users files the mail set wrote."""
        clear = {}
        for kind in ("main", "big", "idle", "lmtp"):
            with open(os.path.join(self.data, f"users-{kind}.tsv")) as f:
                for line in f:
                    address, password = line.split("\t")[:2]
                    clear[address] = password
        path = os.path.join(self.run_dir, "passwd.plain")
        with open(os.path.join(self.data, "passwd.dovecot")) as src, open(path, "w") as out:
            for line in src:
                fields = line.split(":")
                fields[1] = "{PLAIN}" + clear[fields[0]]
                out.write(":".join(fields))
        os.chmod(path, 0o644)
        return path

    def reset_state(self):
        mail = os.path.join(self.data, "dovecot-mail")
        for i in range(1, 65):
            md = os.path.join(mail, f"lmtp{i}", "Maildir")
            if not os.path.isdir(md):
                break
            shutil.rmtree(md)
            for sub in ("", "cur", "new", "tmp"):
                os.makedirs(os.path.join(md, sub), exist_ok=True)
                os.chown(os.path.join(md, sub), MAIL_UID, MAIL_UID)

    def start(self):
        self.reset_state()
        self.pop3_port, self.pop3s_port, self.lmtp_port = free_port(), free_port(), free_port()
        self.write_config()
        self.log = open(os.path.join(self.run_dir, "log", "master.out"), "ab")
        self.master = subprocess.Popen(["taskset", "-c", str(self.core), "dovecot", "-F", "-c", self.conf],
                                       stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.pop3_port, proc=self.master)
        wait_port(self.pop3s_port, proc=self.master)
        wait_port(self.lmtp_port, proc=self.master)

    def pop3_pids(self):
        return [self.master.pid]

    def lmtp_pids(self):
        return [self.master.pid]

    def stop(self):
        stop_processes((self.master,), 120)
        self.master = None
