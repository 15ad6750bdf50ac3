#!/usr/bin/env python3
"""Writes the hand-made seed corpora of Tests/Fuzz/Corpus/<target>/ (docs/fuzzing.md). Each seed is a real
exchange or a real record as Poplar and its peers write them, framed as the target reads its input. Run it again
after changing a target's input format; it rewrites only the files it names."""
import base64, hashlib, hmac, os, struct, sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "Corpus")

def put(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def crlf(*lines):
    return "".join(l + "\r\n" for l in lines)

# --- pop3: line 1 = config (flags byte, bad-command byte), then client lines. The last byte of a line that asks to
# authenticate chooses the outcome (byte % 10 in 0..3: success with len(line) % 6 messages).
def auth_ok(line, messages):
    assert ord(line[-1]) % 10 <= 3 and len(line) % 6 == messages, (line, ord(line[-1]) % 10, len(line) % 6)
    return line

CRAM_APOP_IMPL, TLS_AVAIL, TLS_ONLY, ON_TLS = "1", "3", "*", "t"
put("pop3", "rfc1939-apop-session", crlf(CRAM_APOP_IMPL + "9", "APOP mrose c4c9334bac560ecc979e58001b3e22fb",
    auth_ok("APOP mrose c4c9334bac560ecc979e58001b3e22f5ab5", 4), "STAT", "LIST", "RETR 1", "Subject: hi", "", "body", ".dotted",
    ".", "DELE 1", "RETR 2", "DELE 2", "QUIT"))
put("pop3", "user-pass-transaction", crlf(TLS_AVAIL + "9", "CAPA", "USER alice@example.test", auth_ok("PASS hunter2hunter2#5", 3),
    "STAT", "LIST", "LIST 2", "UIDL", "UIDL 3", "TOP 1 2", "From: a@b|To: c@d||line one|.line two|line three", "TOP 2 0",
    "RETR 3", "x~y|..|.~|", "DELE 1", "DELE 1", "RSET", "NOOP", "DELE 3", "LIST 3", "CAPA", "QUIT"))
put("pop3", "auth-plain-initial", crlf(ON_TLS + "9", "AUTH", "AUTH PLAIN " + base64.b64encode(b"\0alice@example.test\0secret").decode(),
    "STAT", "QUIT"))
put("pop3", "auth-plain-continuation", crlf(CRAM_APOP_IMPL + "9", "AUTH PLAIN", base64.b64encode(b"alice\0alice\0pw").decode(),
    "AUTH PLAIN", "*", "AUTH PLAIN", "=", "QUIT"))
put("pop3", "auth-login", crlf(CRAM_APOP_IMPL + "9", "AUTH LOGIN", base64.b64encode(b"alice@example.test").decode(),
    base64.b64encode(b"secretF").decode(), "UIDL", "QUIT"))
put("pop3", "auth-cram-md5", crlf(CRAM_APOP_IMPL + "9", "AUTH CRAM-MD5",
    base64.b64encode(b"tim b913a602c7eda7a495b4e6e7334d3890").decode(), "USER x", "QUIT"))
put("pop3", "stls-then-login", crlf(TLS_ONLY + "9", "CAPA", "USER alice", "STLS", "CAPA", "USER alice", "PASS pw", "STLS", "QUIT"))
put("pop3", "bad-commands", crlf("!" + "\x01", "PASS before-user", "RETR 1", "XTND", "", "LIST  1", "TOP 1", "RETR 0",
    "RETR 2147483648", "USER " + "a" * 300, "quıt", "QUIT"))
put("pop3", "sasl-long-line", crlf(CRAM_APOP_IMPL + "9", "AUTH PLAIN", "A" * 5000, "AUTH LOGIN", "Zm9v", "====", "QUIT"))
# RFC 6856: LANG (list, lookup, unknown, over-long), UTF8, a UTF-8 USER and a PASS the profiles prepare (width mapping,
# NFC, a non-ASCII space), then UTF8 after login; and lines that are not UTF-8 after UTF8.
put("pop3", "utf8-lang", crlf(CRAM_APOP_IMPL + "9", "CAPA", "LANG", "LANG DE-ch", "LANG uga", "LANG " + "a" * 70, "UTF8",
    "USER \uff4a\uff4f\uff53e\u0301@example.test", "PASS caf\u00e9\u3000pa\u00df5", "LANG", "STAT", "LIST 9", "UTF8", "LANG *", "QUIT"))
put("pop3", "utf8-invalid", crlf(CRAM_APOP_IMPL + "9", "UTF8", "USER alice").encode() + b"PASS \xc0\xaf\r\nUSER \xff\r\n"
    + b"AUTH PLAIN " + base64.b64encode(b"\0a\0\xff") + b"\r\nPASS a\xc2\x85b\r\nQUIT\r\n")
put("pop3", "login-failures", crlf(CRAM_APOP_IMPL + "9", "USER a", "PASS x4", "USER a", "PASS x5", "USER a", "PASS x6",
    "USER a", "PASS x7", "USER a", "PASS x8", "USER a", "PASS x9", "QUIT"))

# --- sasl: byte 0 chooses the exchange (& 7: 0 PLAIN, 1 PLAIN initial, 2 LOGIN, 3 LOGIN initial, 4 CRAM-MD5,
# 5 AUTH <line>, 6 SCRAM-SHA-256, 7 SCRAM-SHA-256-PLUS over TLS; 0x08 success, 0x10 CRAM-MD5 off, 0x20 plaintext
# refused, 0x30 SCRAM keys unavailable), then the responses.
b64 = lambda b: base64.b64encode(b).decode()
put("sasl", "plain", bytes([0x08]) + (b64(b"\0alice@example.test\0secret") + "\r\n").encode())
put("sasl", "plain-authzid", bytes([0x08 | 1]) + (b64(b"alice\0alice\0pw") + "\r\n").encode())
put("sasl", "plain-other-authzid", bytes([1]) + (b64(b"admin\0alice\0pw") + "\r\n").encode())
put("sasl", "login", bytes([0x08 | 2]) + crlf(b64(b"alice@example.test"), b64(b"secret")).encode())
put("sasl", "login-initial", bytes([3]) + crlf(b64(b"alice"), b64(b"")).encode())
put("sasl", "cram-md5", bytes([4]) + crlf(b64(b"tim b913a602c7eda7a495b4e6e7334d3890")).encode())
put("sasl", "cancel", bytes([2]) + crlf("*").encode())
put("sasl", "empty-response", bytes([0]) + crlf("=").encode())
put("sasl", "auth-mechanism-line", bytes([5]) + crlf("XOAUTH2 dXNlcj1h", "").encode())
put("sasl", "bad-padding", bytes([0]) + crlf("QQ=A").encode())
put("sasl", "plaintext-refused", bytes([0x20]) + crlf(b64(b"\0a\0b")).encode())
# SCRAM (RFC 7677 §3's messages; the fuzz keys match no proof, so each ends at the proof check).
scram_final = "c=biws,r=rOprNGfwEbeRWgbNEkqOsrvnonce,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
put("sasl", "scram", bytes([0x08 | 6]) + crlf(b64(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"), b64(scram_final.encode()), "").encode())
put("sasl", "scram-initial", bytes([5]) + crlf("SCRAM-SHA-256 " + b64(b"n,a=user,n=us=2Cer,r=abc"), b64(b"c=biws,r=abcsrvnonce,x=1,p=AAAA")).encode())
put("sasl", "scram-plus", bytes([7]) + crlf(b64(b"p=tls-server-end-point,,n=user,r=abc"),
    b64(b"c=" + base64.b64encode(b"p=tls-server-end-point,," + bytes([7]) * 32) + b",r=abcsrvnonce,p=" + base64.b64encode(bytes(32)))).encode())
put("sasl", "scram-plus-exporter", bytes([7]) + crlf(b64(b"p=tls-exporter,,n=user,r=abc")).encode())
put("sasl", "scram-downgrade", bytes([6]) + crlf(b64(b"y,,n=user,r=abc"), "*").encode())
put("sasl", "scram-unavailable", bytes([0x30 | 6]) + crlf(b64(b"n,,n=user,r=abc")).encode())
put("sasl", "oauthbearer", bytes([5]) + crlf("OAUTHBEARER " + b64(b"n,a=user@example.com,\x01host=h\x01port=110\x01auth=Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln\x01\x01"), "AQ==").encode())
put("sasl", "xoauth2", bytes([5 | 0x08]) + crlf("XOAUTH2 " + b64(b"user=someuser@example.com\x01auth=Bearer abc.def.ghi\x01\x01"), "").encode())
# NTLM ([MS-NLMP]): curl's NEGOTIATE, an AUTHENTICATE with an NTLMv2 blob and one with an NTLMv1 response.
ntlm_negotiate = b"NTLMSSP\0" + struct.pack("<II", 1, 0xA2088207) + bytes(16)
def ntlm_authenticate(user, nt):
    fields, payload = b"", b""
    for field in [bytes(24), nt, "EXAMPLE".encode("utf-16-le"), user.encode("utf-16-le"), "WS".encode("utf-16-le"), b""]:
        fields += struct.pack("<HHI", len(field), len(field), 64 + len(payload))
        payload += field
    return b"NTLMSSP\0" + struct.pack("<I", 3) + fields + struct.pack("<I", 0xA2888205) + payload
ntlm_v2 = bytes(16) + b"\1\1" + bytes(6) + bytes(8) + b"\xaa" * 8 + bytes(4) + bytes(4)
put("sasl", "ntlm", bytes([5]) + crlf("NTLM " + b64(ntlm_negotiate), b64(ntlm_authenticate("alice@example.test", ntlm_v2))).encode())
put("sasl", "ntlm-v1", bytes([5]) + crlf("NTLM", b64(ntlm_negotiate), b64(ntlm_authenticate("alice", bytes(24)))).encode())
put("pop3", "ntlm", crlf(CRAM_APOP_IMPL + "9", "CAPA", "AUTH NTLM", b64(ntlm_negotiate),
    b64(ntlm_authenticate("alice@example.test", ntlm_v2)), "STAT", "QUIT").encode())
put("pop3", "scram", bytes([0x80 | 0x04]) + crlf("9", "CAPA", "AUTH SCRAM-SHA-256", b64(b"n,,n=alice,r=abc"),
    b64(b"c=biws,r=abcsrvnonce,p=" + base64.b64encode(bytes(32))), "AUTH SCRAM-SHA-256-PLUS", b64(b"p=tls-server-end-point,,n=a,r=b"), "QUIT").encode())

# --- smtp: line 1 = config (flags, size index, bad-command limit, DATA chunk), then the client's stream.
def smtp_config(smtp=False, tls_avail=False, is_tls=False, normalize=False, max_rcpt=4, size=6, bad=19, chunk=0):
    flags = (1 if smtp else 0) | (2 if tls_avail else 0) | (4 if is_tls else 0) | (8 if normalize else 0) | ((max_rcpt - 1) << 4)
    return bytes([flags, size, bad, chunk]) + b"\n"

message = crlf("From: sender@example.org", "To: alice@example.test", "Subject: test", "", "Hello.", "..a stuffed dot", "")
put("smtp", "lmtp-postfix", smtp_config() + crlf("LHLO mx.example.test", "MAIL FROM:<sender@example.org> SIZE=120 BODY=8BITMIME",
    "RCPT TO:<alice@example.test>", "RCPT TO:<bob@example.test>", "RCPT TO:<ALICE@example.test>", "DATA").encode()
    + message.encode() + b".\r\n" + crlf("QUIT").encode())
put("smtp", "smtp-starttls", smtp_config(smtp=True, tls_avail=True, chunk=7) + crlf("EHLO client.example.org", "STARTTLS",
    "EHLO client.example.org", "MAIL FROM:<> BODY=7BIT", "RCPT TO:<@relay.example:alice@example.test>", "DATA").encode()
    + message.encode() + b".\r\n" + crlf("RSET", "VRFY alice", "HELP", "NOOP ignored", "QUIT").encode())
put("smtp", "smtp-smuggling", smtp_config(smtp=True, chunk=3) + crlf("HELO c.example", "MAIL FROM:<a@example.org>",
    "RCPT TO:<alice@example.test>", "DATA").encode() + b"Subject: x\r\n\r\nbody\n.\nMAIL FROM:<evil@example.org>\r\n.\r\n" +
    crlf("QUIT").encode())
put("smtp", "smtp-normalize", smtp_config(smtp=True, normalize=True, chunk=1) + crlf("EHLO c", "MAIL FROM:<a@b>", "RCPT TO:<c@d>",
    "DATA").encode() + b"line\rline\nline\r\n.\n.\r\n" + crlf("QUIT").encode())
put("smtp", "too-large", smtp_config(size=3) + crlf("LHLO mx", "MAIL FROM:<a@b> SIZE=99999", "MAIL FROM:<a@b> SIZE=10",
    "MAIL FROM:<a@b>", "RCPT TO:<c@d>", "DATA").encode() + b"0123456789abcdef0123456789\r\n.\r\n" + crlf("QUIT").encode())
put("smtp", "errors", smtp_config(bad=4) + crlf("EHLO mx", "MAIL FROM:<a@b>", "DATA", "RCPT TO:<>", "MAIL FROM:a@b",
    "LHLO", "LHLO mx", "RCPT TO:<c@d> NOTIFY=NEVER", "MAIL FROM:<a@b> SIZE=1 SIZE=2", "X" * 600, "QUIT").encode())
put("smtp", "many-recipients", smtp_config(max_rcpt=3) + crlf("LHLO mx", "MAIL FROM:<a@b>", "RCPT TO:<r1@example.test>",
    "RCPT TO:<r2@example.test>", "RCPT TO:<r3@example.test>", "RCPT TO:<r4@example.test>", "RCPT TO:<R1@EXAMPLE.TEST>",
    "DATA").encode() + b".\r\n" + crlf("QUIT").encode())
put("smtp", "data-unterminated", smtp_config() + crlf("LHLO mx", "MAIL FROM:<a@b>", "RCPT TO:<c@d>", "DATA").encode() + b"no end\r\n.")

# --- proxy: the first bytes a peer sends.
def v2(cmd, fam, addr, tlvs=b""):
    body = addr + tlvs
    return bytes([0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x20 | cmd, fam]) + struct.pack(">H", len(body)) + body

ip4 = bytes([192, 0, 2, 1]) + bytes([198, 51, 100, 1]) + struct.pack(">HH", 56324, 110)
ip6 = bytes.fromhex("20010db8000000000000000000000001") + bytes.fromhex("20010db8000000000000000000000002") + struct.pack(">HH", 40000, 995)
put("proxy", "v1-tcp4", "PROXY TCP4 192.0.2.1 198.51.100.1 56324 110\r\nCAPA\r\n")
put("proxy", "v1-tcp6", "PROXY TCP6 2001:db8::1 ::ffff:198.51.100.1 40000 995\r\n")
put("proxy", "v1-unknown", "PROXY UNKNOWN\r\n")
put("proxy", "v1-unknown-max", "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n")
put("proxy", "v2-tcp4", v2(1, 0x11, ip4) + b"USER alice\r\n")
put("proxy", "v2-tcp6-tlvs", v2(1, 0x21, ip6, bytes([0x01, 0x00, 0x02]) + b"h2" + bytes([0x20, 0x00, 0x05, 0x07, 0, 0, 0, 0])))
put("proxy", "v2-local", v2(0, 0x00, b""))
put("proxy", "v2-unix", v2(1, 0x31, bytes(216)))
put("proxy", "not-a-header", "USER alice\r\n")
put("proxy", "v1-prefix", "PROX")

# --- netstring: byte 0 = limit index (% 8) and chunk (byte >> 3); then what Postfix sends.
def ns(s):
    b = s.encode() if isinstance(s, str) else s
    return str(len(b)).encode() + b":" + b + b","
put("netstring", "requests", bytes([6]) + ns("recipient alice@example.test") + ns("recipient bob@example.test"))
put("netstring", "chunked", bytes([6 | (3 << 3)]) + ns("domain example.test") + ns("") + ns("recipient " + "x" * 90))
put("netstring", "too-long", bytes([2]) + b"10:0123456789,")
put("netstring", "leading-zero", bytes([6]) + b"01:x,")
put("netstring", "missing-comma", bytes([6]) + b"3:abc;")
put("netstring", "many-digits", bytes([7]) + b"1000000:")

# --- lineframer: opcodes 0-3 append (then a length byte), 4 set the bound (two bytes), 5 take, 6 discard, 7 read.
def app(b):
    out = b""
    while b:
        part, b = b[:64], b[64:]
        out += bytes([3, len(part) - 1]) + part
    return out
bound = lambda n: bytes([4]) + struct.pack(">H", n)
put("lineframer", "pop3-lines", app(b"USER alice\r\nPASS secret\r\nSTAT\r\n") + bytes([7]) + app(b"LIST\r") + bytes([7]) + app(b"\n") + bytes([7]))
put("lineframer", "sasl-bound", app(b"AUTH PLAIN\r\n") + bytes([7]) + bound(4096) + app(b"A" * 300 + b"\r\n") + bytes([7]) + bound(255) + app(b"B" * 300 + b"\r\nQUIT\r\n") + bytes([7]))
put("lineframer", "smtp-data-take", bound(510) + app(b"DATA\r\nSubject: x\r\n\r\n.\r\n") + bytes([7, 5]) + app(b"QUIT\r\n") + bytes([7]))
put("lineframer", "stls-discard", app(b"STLS\r\nUSER injected\r\n") + bytes([7, 6]) + app(b"CAPA\n") + bytes([7]))
put("lineframer", "zero-bound", bound(0) + app(b"\r\n\n x\r\n") + bytes([7]))

# --- store: byte 0 = format (% 11), then the file.
def rec(sel, text):
    return bytes([sel]) + (text.encode() if isinstance(text, str) else text)
boot = "0f6c3a2e-5d1b-4f5e-9a77-3c2b1d0e9f88"
put("store", "owner-session", rec(0, f"kind=session\nnode=node-a\nsession=s-1a2b\nsince=1780000000123\nbeat=4\nproc={boot}/4026531836/1234/5678\nw=00000000deadbeef\n"))
put("store", "owner-admin", rec(0, "kind=admin\nnode=admin-host\nsession=\nsince=1780000000000\nbeat=0\nw=0123456789abcdef\n"))
put("store", "node-record", rec(1, "node=node-a\naddress=192.0.2.10:110\nversion=0.9.0\npid=4242\nstarted=1780000000000\nupdated=1780000004000\nbeat=2\ndraining=0\ninterval-ms=2000\nsession=s-1 alice@example.test 198.51.100.7:50000 1780000001000\nsession=s-2 bob@example.test [2001:db8::7]:50001 1780000002000\n"))
put("store", "cluster-file", rec(2, "format=1\nid=3f2504e0-4f89-41d3-9a0c-0305e82c3301\nkdf-rounds=210000\nlock-lease-ms=30000\n"))
guid = bytes.fromhex("5eed" * 16)
salt = bytes(range(16))
keyed = hmac.new(guid, b"secret", hashlib.sha256).digest()
h = hashlib.pbkdf2_hmac("sha256", keyed, salt, 2, 32)
ub64 = lambda b: base64.b64encode(b).decode().rstrip("=")
put("store", "password-record", rec(3, f"phc=$pbkdf2-sha256$i=2${ub64(salt)}${ub64(h)}\n"))
put("store", "password-record-apop", rec(3, f"phc=$pbkdf2-sha256$i=210000${ub64(salt)}${ub64(h)}\napop={base64.b64encode(bytes(12) + b'secret' + bytes(16)).decode()}\n"))
put("store", "metabase", rec(4, "version=3\nexample.test\nexample.org\nxn--bcher-kva.example\n"))
put("store", "quota", rec(5, "1048576\n"))
put("store", "control", rec(6, "drain\nkick.s-1a2b\nkick.\n.tmp\n"))
put("store", "message-names", rec(7, "P3_20261204173500123123450001.eml\nP3_2026120417350012312345000.eml\nintent\nP3_20261204173500123123450002.eml\n"))
put("store", "incarnation", rec(8, f"{boot}/4026531836/1234/5678"))
put("store", "mailbox-dirs", rec(9, "P3_alice.mbx\nP3_Bob.Smith.mbx\nalice@example.test\nP3_.mbx\nnode-a\n"))
put("store", "guid-file", rec(10, "5eed" * 16 + "\n"))

# --- config: byte 0 even = JSON file, odd = a CIDR list.
put("config", "node-json", b"\0" + b'''{
  "root": "/srv/mail",
  "guid-file": "/etc/poplar/guid",
  "pop3": {"listen": ["0.0.0.0:110", "[::]:110"], "tls-listen": ["0.0.0.0:995"], "idle-timeout": 600,
           "max-connections": 1000, "max-connections-per-ip": 20, "plaintext": "tls-only", "greeting": "Poplar ready",
           "cram-md5": false},
  "tls": {"cert": "/etc/poplar/cert.pem", "key": "/etc/poplar/key.pem", "min-version": "1.2"},
  "proxy": {"trusted": "10.0.0.0/8, 192.168.1.5, 2001:db8::/32"},
  "http": {"listen": ["127.0.0.1:8110"], "allow": "127.0.0.1,::1"},
  "node": {"id": "node-a", "registry-interval": 2},
  "log": {"level": "info"}
}
''')
put("config", "cidr-list", b"\x01" + b"10.0.0.0/8,127.0.0.1,::1/128, 2001:db8::/32,::ffff:192.0.2.0/120,0.0.0.0/0")
put("config", "cidr-bad", b"\x01" + b"10.0.0.0/33,1.2.3")
