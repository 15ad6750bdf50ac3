"""A private OpenLDAP server for the client suite's LDAP test (the Swift suites have their own,
Tests/ServerTests/SlapdFixture.swift): slapd on 127.0.0.1 with the mdb backend, the memberof overlay, a CA and a
server certificate made with openssl (StartTLS and ldaps verified against it), seeded with ldapadd."""
import os
import socket
import subprocess
import time

SUFFIX = "dc=poplar,dc=test"
ROOT_DN, ROOT_PW = f"cn=admin,{SUFFIX}", "rootsecret"
SERVICE_DN, SERVICE_PW = f"cn=service,{SUFFIX}", "service pw"
GROUP_DN = f"cn=POP3 Users,ou=groups,{SUFFIX}"
START_LIMIT = 15  # seconds slapd may take to listen
BINARIES = ("/usr/sbin/slapd", "/usr/bin/ldapadd", "/usr/bin/openssl")


def installed():
    return all(os.access(b, os.X_OK) for b in BINARIES)


class Slapd:
    def __init__(self, directory, port, tls_port):
        self.dir, self.port, self.tls_port = directory, port, tls_port
        self.proc = None
        os.makedirs(os.path.join(directory, "db"), exist_ok=True)
        self.ca = os.path.join(directory, "ca.pem")
        self.uri, self.tls_uri = f"ldap://127.0.0.1:{port}", f"ldaps://127.0.0.1:{tls_port}"
        self._certificates()
        self._configuration()

    def _run(self, *cmd, stdin=None):
        r = subprocess.run(list(cmd), input=stdin, capture_output=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"{cmd[0]}: {r.stderr.decode(errors='replace')}")

    def _certificates(self):
        d = self.dir
        self._run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/ca.key", "-out", self.ca,
                  "-days", "2", "-subj", "/CN=Poplar client suite CA")
        self._run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/server.key", "-out", f"{d}/server.csr",
                  "-subj", "/CN=127.0.0.1")
        with open(f"{d}/ext.cnf", "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\n")
        self._run("openssl", "x509", "-req", "-in", f"{d}/server.csr", "-CA", self.ca, "-CAkey", f"{d}/ca.key",
                  "-CAcreateserial", "-out", f"{d}/server.pem", "-days", "2", "-extfile", f"{d}/ext.cnf")

    def _configuration(self):
        d = self.dir
        with open(f"{d}/slapd.conf", "w") as f:
            f.write(f"""include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile {d}/slapd.pid
TLSCACertificateFile {self.ca}
TLSCertificateFile {d}/server.pem
TLSCertificateKeyFile {d}/server.key
database mdb
suffix "{SUFFIX}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PW}
directory {d}/db
maxsize 10485760
overlay memberof
access to attrs=userPassword by anonymous auth by * none
access to * by * read
""")

    def start(self):
        log = open(os.path.join(self.dir, "slapd.log"), "ab")
        self.proc = subprocess.Popen(["/usr/sbin/slapd", "-f", f"{self.dir}/slapd.conf", "-h", f"{self.uri}/ {self.tls_uri}/",
                                      "-d", "stats"], stdout=log, stderr=log)
        deadline = time.time() + START_LIMIT
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"slapd exited: {open(os.path.join(self.dir, 'slapd.log')).read()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("slapd did not listen")

    def stop(self):
        """SIGKILL, as a crash would (the mdb database survives it)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.proc = None

    def seed(self, people, members):
        """people: {uid: (mail, password)}; members: the uids in the group."""
        ldif = [f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Poplar\ndc: poplar\n",
                f"dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n",
                f"dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n",
                f"dn: {SERVICE_DN}\nobjectClass: person\ncn: service\nsn: service\nuserPassword: {SERVICE_PW}\n"]
        for uid, (mail, pw) in people.items():
            ldif.append(f"dn: uid={uid},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: {uid}\n"
                        f"mail: {mail}\nuserPassword: {pw}\n")
        ldif.append(f"dn: {GROUP_DN}\nobjectClass: groupOfNames\ncn: POP3 Users\n"
                    + "".join(f"member: uid={uid},ou=people,{SUFFIX}\n" for uid in members))
        self._run("ldapadd", "-x", "-H", self.uri, "-D", ROOT_DN, "-w", ROOT_PW, stdin="\n".join(ldif).encode())
