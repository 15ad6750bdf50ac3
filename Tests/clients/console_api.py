#!/usr/bin/env python3
"""The console's HTTP API (/api/v1, issue 17 item 4; docs/console.md, "HTTP API") against a real `poplar console`
over HTTPS on 127.0.0.1, beside a `poplar node` on the same mail root:

- schemathesis (PyPI) generates requests from the served OpenAPI document (/api/v1/openapi.yaml) and checks every
  answer: no server error, status codes, content types and bodies as documented, invalid input refused, the token
  required (ignored_auth), stateful sequences (a created resource found, a deleted one gone). Left out: "schema-valid
  input accepted" (the document does not spell out every name rule the store enforces: such input gets a 400 with
  the API's error shape) and 405 for undeclared methods (the router answers 404).
- A token from `poplar admin-user token`, a password set through the API and Python's poplib logging in with it;
  the change in the audit log as the token's administrator; `poplar admin-user revoke-token` refusing it at once.

Started by Tests/run-tests; prints PASS/FAIL per test and "N passed, N failed" last. Every process started here is
stopped here, every wait is bounded, nothing leaves 127.0.0.1.
"""
import argparse
import json
import os
import poplib
import ssl
import subprocess
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from console_browser import Console, stop_before_teardown  # noqa: E402
from run_clients import DOMAIN, PW, Harness, run_suite  # noqa: E402

ADMIN, ADMIN_PW = "api-ops", "api admin pw"
EXAMPLES = 25  # per operation and phase: a CI-sized run; cluster/bench is not the place for it either
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def call(s, method, path, body=None, token=None):
    """(status, JSON object) of one API request; every answer must be JSON."""
    req = urllib.request.Request(s["console"].url + "/api/v1" + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    if body is not None:
        req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", "Bearer " + (token or s["token"]))
    ctx = ssl._create_unverified_context()
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            status, headers, data = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, headers, data = e.code, e.headers, e.read()
    assert headers["Content-Type"] == "application/json", (path, headers["Content-Type"])
    return status, json.loads(data)


@test
def a_password_set_through_the_api_logs_a_real_client_in(s):
    status, body = call(s, "PUT", f"/mailboxes/carol%40{DOMAIN}/password", {"password": "set by the api"})
    assert status == 200 and body == {"address": f"carol@{DOMAIN}"}, (status, body)
    p = poplib.POP3("127.0.0.1", s["node"]["port"], timeout=30)
    try:
        p.user(f"carol@{DOMAIN}")
        p.pass_("set by the api")
        p.quit()
    finally:
        p.close()
    status, body = call(s, "GET", "/audit?limit=5")
    first = body["entries"][0]
    assert (first["who"], first["action"], first["target"]) == (ADMIN, "mailbox.passwd", f"carol@{DOMAIN}"), first
    assert first["from"] == "127.0.0.1", first
    status, body = call(s, "GET", "/cluster")
    assert status == 200 and [n["node"] for n in body["nodes"]] == ["n1"], body


@test
def a_revoked_token_is_refused_at_once(s):
    r = s["h"].cli("admin-user", "token", ADMIN, "--days", "1")
    other = r.stdout.decode().strip()
    assert other.startswith("poplar_") and b"not shown again" in r.stderr, r
    assert call(s, "GET", "/domains", token=other)[0] == 200
    tokens = json.loads(s["h"].cli("admin-user", "tokens", "--json").stdout)["tokens"]
    assert len(tokens) == 2 and all(other not in json.dumps(t) for t in tokens), "no secret listed"
    token_id = other.split("_")[1]
    s["h"].cli("admin-user", "revoke-token", token_id)
    status, body = call(s, "GET", "/domains", token=other)
    assert status == 401 and body["error"]["code"] == "unauthorized", (status, body)
    assert call(s, "GET", "/domains")[0] == 200, "the other token still works"


@test
def schemathesis_finds_no_server_error_and_no_schema_violation(s):
    """Last: its stateful phase follows the cluster's node names into POST /nodes/{node}/drain, and the node drains."""
    url = s["console"].url + "/api/v1"
    # The python3 on PATH, where Tests/run-tests installed it (its console script may not be on PATH).
    r = subprocess.run([sys.executable, "-m", "schemathesis.cli", "run", url + "/openapi.yaml", "--url", url, "-H", "Authorization: Bearer " + s["token"],
                        "--checks", "all", "--exclude-checks", "positive_data_acceptance,unsupported_method,allow_header_conformance",
                        "--tls-verify", "false", "--max-examples", str(EXAMPLES), "--seed", "1"],
                       capture_output=True, text=True, timeout=900, env={**os.environ, "NO_COLOR": "1"})
    summary = [line for line in r.stdout.splitlines() if "generated" in line]
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    print(f"FIGURE schemathesis: {summary[-1].strip() if summary else '?'}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--poplar", required=True)
    ap.add_argument("-k", dest="pattern")
    args = ap.parse_args()
    h = Harness(os.path.abspath(args.poplar))
    state = {"h": h}
    stop_before_teardown(h, state, "console")

    def prepare():
        h.cli("admin-user", "add", ADMIN, "--password-stdin", stdin=(ADMIN_PW + "\n").encode())
        state["token"] = h.cli("admin-user", "token", ADMIN).stdout.decode().strip()
        state["node"] = h.start_node()
        state["console"] = Console(h)
        return lambda fn: fn(state)

    return run_suite(h, TESTS, args.pattern, prepare, 900)


if __name__ == "__main__":
    assert PW
    sys.exit(main())
