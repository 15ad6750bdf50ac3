#!/usr/bin/env python3
"""`poplar console` in a real browser (issue 17, docs/console.md): Debian's headless Chromium driven by Selenium
(chromedriver of Debian's chromium-driver; no driver is downloaded), against `poplar console` on 127.0.0.1 with a
self-signed certificate, over the same mail root as a `poplar node`.

It logs in, adds a domain and a mailbox, resets the password and fetches with a real POP3 client (poplib) to prove
the new password works; reads the audit log page; checks that a form without its CSRF token gets 403 and that no
session is sent to the login page (urllib, no browser), that HTML in a mailbox name is shown escaped, that a
session cookie is HttpOnly, Secure and SameSite=Strict and that every page carries the security headers. A PNG
screenshot of every page goes to .build/console-screenshots (or --screenshots DIR).

The tests run in order on one browser and one mail root, each building on the ones before (-k runs one alone only
where it needs nothing before it). Started by Tests/run-tests; prints PASS/FAIL per test and "N passed, N failed" last. Every process started here is
stopped here (finally), every wait is bounded, and nothing leaves 127.0.0.1.
"""
import argparse
import http.cookiejar
import os
import poplib
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_clients import DOMAIN, Harness, free_port, run_suite, start_coordinator  # noqa: E402

ADMIN, ADMIN_PW = "ops", "console admin pw"
NEW_DOMAIN = "console.test"
EVIL = "<script>&'x"  # a mailbox name the store allows: '<', '>', '&' and "'" are not forbidden
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class Console:
    """`poplar console` on a free port of 127.0.0.1, its log in the harness's folder."""

    def __init__(self, h):
        self.h = h
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        log = open(os.path.join(h.dir, "console.log"), "ab")
        cmd = [h.poplar, "console", "--root", h.root, "--guid-file", h.guid, "--listen", f"127.0.0.1:{self.port}",
               "--cert", h.cert, "--key", h.key, "--log-level", "info", "--trusted-proxy", "127.0.0.1/32"]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("console exited: " + open(os.path.join(h.dir, "console.log")).read()[-2000:])
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("console did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def stop_before_teardown(h, state, *keys):
    """The harness's teardown first stops what `state` holds under `keys` (each has close() or stop()), in order."""
    original = h.teardown

    def teardown():
        try:
            for key in keys:
                thing = state.get(key)
                if thing:
                    try:
                        (getattr(thing, "close", None) or thing.stop)()
                    except Exception as e:
                        print(f"teardown of {key}: {e}", flush=True)
        finally:
            original()
    h.teardown = teardown


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def plain_client(jar=None):
    """urllib against the self-signed console: no redirect followed, the certificate not checked (it is ours)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    handlers = [urllib.request.HTTPSHandler(context=ctx), NoRedirect()]
    if jar is not None:
        handlers.append(urllib.request.HTTPCookieProcessor(jar))
    return urllib.request.build_opener(*handlers)


def fetch(opener, url, data=None, headers=None):
    """(status, headers, body) of one request, an HTTP error status included."""
    try:
        with opener.open(urllib.request.Request(url, data=data, headers=headers or {}), timeout=30) as r:
            return r.status, r.headers, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode(errors="replace")


class Suite:
    def __init__(self, h, console, node, shots):
        self.h, self.console, self.node, self.shots = h, console, node, shots
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--ignore-certificate-errors",
                    "--window-size=1280,900", "--no-first-run", "--disable-background-networking", "--disable-sync",
                    "--disable-component-update", "--disable-default-apps", "--disable-extensions",
                    f"--user-data-dir={os.path.join(h.dir, 'chromium-profile')}"):
            options.add_argument(arg)
        self.driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
        self.driver.set_page_load_timeout(30)

    def close(self):
        self.driver.quit()

    def go(self, path):
        self.driver.get(self.console.url + path)

    def shot(self, name):
        os.makedirs(self.shots, exist_ok=True)
        self.driver.save_screenshot(os.path.join(self.shots, name + ".png"))

    def by_id(self, element_id):
        from selenium.webdriver.common.by import By
        return self.driver.find_element(By.ID, element_id)

    def fill(self, element_id, text):
        e = self.by_id(element_id)
        e.clear()
        e.send_keys(text)

    def submit(self, button_id):
        """Clicks a form's button and waits (bounded) until the next page has replaced this one."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait
        old = self.driver.find_element(By.TAG_NAME, "html")
        self.by_id(button_id).click()

        def replaced(_):
            try:
                old.tag_name  # raises once the page it belonged to is gone (stale, or "does not belong to the document")
                return False
            except WebDriverException:
                return True
        WebDriverWait(self.driver, 20).until(replaced)
        WebDriverWait(self.driver, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")

    def flash(self):
        return self.by_id("flash").text

    def path(self):
        return urllib.parse.urlsplit(self.driver.current_url).path


@test
def no_session_is_sent_to_the_login_page(s):
    for path in ("/domains", "/mailboxes", "/audit", "/"):
        status, headers, _ = fetch(plain_client(), s.console.url + path)
        assert status == 303 and headers["Location"] in ("/login", "/domains"), (path, status, headers["Location"])
    s.go("/domains")
    assert s.path() == "/login", s.driver.current_url
    s.shot("01-login")


@test
def wrong_password_is_refused_and_login_works(s):
    s.fill("name", ADMIN)
    s.fill("password", "not the password")
    s.submit("login")
    assert "wrong name or password" in s.flash(), s.flash()
    s.shot("02-login-refused")
    s.fill("name", ADMIN)
    s.fill("password", ADMIN_PW)
    s.submit("login")
    assert s.path() == "/domains", s.driver.current_url
    cookie = s.driver.get_cookie("poplar_console")
    assert cookie and cookie["httpOnly"] and cookie["secure"] and cookie.get("sameSite") == "Strict", cookie


@test
def add_a_domain(s):
    s.go("/domains")
    s.fill("domain-name", NEW_DOMAIN)
    s.submit("add-domain-button")
    assert s.flash() == f"added domain {NEW_DOMAIN}", s.flash()
    table = s.by_id("domains").text
    assert NEW_DOMAIN in table and DOMAIN in table, table
    s.fill("domain-name", "<b>bad</b>.test")
    s.submit("add-domain-button")
    assert "invalid domain" in s.flash() and "<b>bad</b>.test" in s.flash(), s.flash()
    assert "<b>bad" not in s.driver.page_source, "the refused name is escaped"
    s.shot("03-domains")


@test
def add_mailboxes_and_search(s):
    s.go("/mailboxes?domain=" + NEW_DOMAIN)
    s.fill("mailbox-name", "carla")
    s.fill("mailbox-password", "first password")
    s.fill("mailbox-quota", "50M")
    s.submit("add-mailbox-button")
    assert s.flash() == f"created mailbox carla@{NEW_DOMAIN}", s.flash()
    s.fill("mailbox-name", EVIL)
    s.fill("mailbox-password", "pw")
    s.submit("add-mailbox-button")
    assert s.flash() == f"created mailbox {EVIL}@{NEW_DOMAIN}", s.flash()
    listing = s.by_id("mailboxes").text
    assert f"carla@{NEW_DOMAIN}" in listing and f"{EVIL}@{NEW_DOMAIN}" in listing, listing
    assert "<script>&" not in s.driver.page_source and "&lt;script&gt;&amp;" in s.driver.page_source
    assert not s.driver.find_elements("tag name", "script"), "no script element on the page"
    s.shot("04-mailboxes")
    s.fill("q", "carl")
    s.submit("search-button")
    listing = s.by_id("mailboxes").text
    assert f"carla@{NEW_DOMAIN}" in listing and "script" not in listing, listing
    s.shot("05-mailboxes-search")


@test
def reset_the_password_and_fetch_with_pop3(s):
    s.h.cli("deliver", f"carla@{NEW_DOMAIN}", os.path.join(s.h.dir, "console-msg.eml"))
    s.go("/mailbox?address=" + urllib.parse.quote(f"carla@{NEW_DOMAIN}"))
    assert "50 MiB" in s.by_id("mailbox-facts").text, s.by_id("mailbox-facts").text
    s.fill("new-password", "second password")
    s.submit("reset-password-button")
    assert s.flash() == f"password of carla@{NEW_DOMAIN} changed", s.flash()
    s.fill("quota", "1G")
    s.submit("set-quota-button")
    assert s.flash() == f"quota of carla@{NEW_DOMAIN}: 1 GiB", s.flash()
    s.shot("06-mailbox")
    p = poplib.POP3("127.0.0.1", s.node["port"], timeout=30)
    try:
        p.user(f"carla@{NEW_DOMAIN}")
        p.pass_("second password")
        count, _ = p.stat()
        assert count == 1, count
        lines = p.retr(1)[1]
        assert b"Subject: from the console test" in lines, lines[:5]
        p.quit()
    finally:
        try:
            p.close()
        except Exception:
            pass
    p = poplib.POP3("127.0.0.1", s.node["port"], timeout=30)
    try:
        p.user(f"carla@{NEW_DOMAIN}")
        try:
            p.pass_("first password")
            raise AssertionError("the old password still works")
        except poplib.error_proto:
            pass
    finally:
        p.close()


@test
def kick_a_session_held_by_a_real_client(s):
    """Python's poplib holds carla's mailbox; the mailbox page names the holder, and its Kick button ends that session
    on its node (the client's connection is closed), audited."""
    p = pop3_login(s, f"carla@{NEW_DOMAIN}", "second password")
    try:
        s.go("/mailbox?address=" + urllib.parse.quote(f"carla@{NEW_DOMAIN}"))
        deadline = time.time() + 10
        while "held by a session on node n1" not in s.by_id("mailbox-facts").text and time.time() < deadline:
            time.sleep(0.3)
            s.go("/mailbox?address=" + urllib.parse.quote(f"carla@{NEW_DOMAIN}"))
        assert "held by a session on node n1" in s.by_id("mailbox-facts").text, s.by_id("mailbox-facts").text
        from selenium.webdriver.common.by import By
        assert s.driver.find_elements(By.ID, "unlock-button") == [], "Unlock is for the administrator's lock only"
        assert s.by_id("force-unlock-button")
        s.shot("08-mailbox-held")
        s.submit("kick-button")
        assert s.flash().startswith("asked node n1 to end session "), s.flash()
        assert closed_within(p, 10), "the kicked client's connection was closed"
    finally:
        p.close()
    deadline = time.time() + 5
    while "lock: free" not in s.h.cli("mailbox", "show", f"carla@{NEW_DOMAIN}").stdout.decode() and time.time() < deadline:
        time.sleep(0.1)
    s.go("/mailbox?address=" + urllib.parse.quote(f"carla@{NEW_DOMAIN}"))
    assert "free" in s.by_id("mailbox-facts").text, s.by_id("mailbox-facts").text
    # Its recent sessions, newest first, from the access journal: the kicked one, and the fetch of the password test.
    rows = s.by_id("recent-sessions").text.splitlines()[1:]
    assert len(rows) >= 2 and all(" n1 " in r and "127.0.0.1" in r for r in rows[:2]), rows
    assert rows[0].endswith(" kicked") and rows[1].endswith(" quit") and " 1 (41 B) " in rows[1], rows
    s.shot("10-mailbox-sessions")
    from selenium.webdriver.common.by import By
    assert s.driver.find_elements(By.ID, "lock-actions") == [], "no lock button for a free mailbox"


def pop3_login(s, user, password):
    p = poplib.POP3("127.0.0.1", s.node["port"], timeout=30)
    p.user(user)
    p.pass_(password)
    assert p.stat()[0] >= 0
    return p


def closed_within(p, seconds):
    """The server closed the POP3 connection: a command gets no answer."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            p.noop()
        except (poplib.error_proto, OSError, EOFError):
            return True
        time.sleep(0.3)
    return False


@test
def the_audit_log_shows_every_change(s):
    s.go("/audit")
    text = s.by_id("audit").text
    for action, target in (("login", ADMIN), ("domain.add", NEW_DOMAIN), ("mailbox.add", f"carla@{NEW_DOMAIN}"),
                           ("mailbox.add", f"{EVIL}@{NEW_DOMAIN}"), ("mailbox.passwd", f"carla@{NEW_DOMAIN}"),
                           ("mailbox.quota", f"carla@{NEW_DOMAIN}"), ("admin.add", ADMIN),
                           ("mailbox.kick", f"carla@{NEW_DOMAIN}")):
        assert any(action in line and target in line for line in text.splitlines()), (action, target, text)
    assert "127.0.0.1" in text and "second password" not in s.driver.page_source
    assert "&lt;script&gt;&amp;" in s.driver.page_source and "<script>&" not in s.driver.page_source
    s.shot("07-audit")


@test
def the_cli_and_the_console_share_one_admin_library(s):
    """The CLI pages mailboxes as the console does, and its changes are in the console's audit log."""
    import json
    out = json.loads(s.h.cli("mailbox", "list", NEW_DOMAIN, "--search", "CARL", "--json").stdout)
    assert out == {"mailboxes": [f"carla@{NEW_DOMAIN}"], "matching": 1, "next": None}, out
    r = s.h.cli("mailbox", "list", NEW_DOMAIN, "--limit", "1")
    assert r.stdout.decode().split() == [f"{EVIL}@{NEW_DOMAIN}"] and f"more: --after {EVIL}" in r.stderr.decode(), r
    assert json.loads(s.h.cli("admin-user", "list", "--json").stdout) == {"admins": [ADMIN]}
    s.h.cli("mailbox", "quota", f"carla@{NEW_DOMAIN}", "none")
    s.go("/audit")
    first = s.by_id("audit").text.splitlines()[1]
    assert " cli " in first and "mailbox.quota" in first and "quota=none" in first, first
    s.go("/mailbox?address=" + urllib.parse.quote(f"carla@{NEW_DOMAIN}"))
    assert "none" == s.by_id("mailbox-quota-value").text, s.by_id("mailbox-quota-value").text


@test
def remove_a_mailbox(s):
    s.go("/mailbox?address=" + urllib.parse.quote(f"{EVIL}@{NEW_DOMAIN}"))
    assert s.by_id("mailbox-address").text == f"{EVIL}@{NEW_DOMAIN}"
    s.by_id("remove-confirm").click()
    s.submit("remove-mailbox-button")
    assert s.flash() == f"removed mailbox {EVIL}@{NEW_DOMAIN}", s.flash()
    assert s.path() == "/mailboxes"
    assert f"{EVIL}@{NEW_DOMAIN}" not in s.by_id("mailboxes").text
    assert f"{EVIL}@{NEW_DOMAIN}" not in s.h.cli("mailbox", "list", NEW_DOMAIN).stdout.decode()


def drop_in_pickup(s, name, text):
    """A file in the coordinator's pickup folder, written under a hidden name and renamed (as the folder expects)."""
    pickup = os.path.join(s.h.root, ".poplar", "pickup")
    os.makedirs(pickup, exist_ok=True)
    with open(os.path.join(pickup, "." + name), "wb") as f:
        f.write(text)
    os.rename(os.path.join(pickup, "." + name), os.path.join(pickup, name))


def wait_for_badmail(s, name):
    deadline = time.time() + 15
    s.go("/delivery")
    while name not in s.by_id("badmail").text and time.time() < deadline:
        time.sleep(0.3)
        s.go("/delivery")
    return name in s.by_id("badmail").text


@test
def badmail_is_looked_at_retried_once_the_mailbox_exists_and_deleted(s):
    """A real coordinator puts a pickup file for a mailbox that does not exist yet into Badmail; the delivery page
    shows it with its reason, its message page shows it escaped; once the mailbox is made, Retry puts it back into
    pickup and the coordinator delivers it (poplib fetches it). A file without recipients is deleted from the page."""
    coord = start_coordinator(s.h, name="console-coord")
    try:
        drop_in_pickup(s, "late.eml", f"x-sender: a@example.net\r\nx-receiver: late@{NEW_DOMAIN}\r\n\r\n"
                                      "Subject: late <b>mail</b>\r\n\r\nhello\r\n".encode())
        assert wait_for_badmail(s, "late.eml"), s.by_id("badmail").text
        row = [line for line in s.by_id("badmail").text.splitlines() if "late.eml" in line][0]
        assert f"late@{NEW_DOMAIN}" in row, row
        s.shot("11-delivery")
        from selenium.webdriver.common.by import By
        s.driver.find_element(By.LINK_TEXT, "late.eml").click()
        assert "Subject: late <b>mail</b>" in s.by_id("badmail-message").text, s.by_id("badmail-message").text
        assert "<b>mail</b>" not in s.driver.page_source, "the message is shown escaped"
        assert f"late@{NEW_DOMAIN}" in s.by_id("badmail-reason").text
        s.shot("12-badmail-message")
        s.h.cli("mailbox", "add", f"late@{NEW_DOMAIN}", "--password-stdin", stdin=b"late pw\n")
        s.go("/delivery")
        s.submit("retry-late.eml")
        assert s.flash().startswith("put late.eml back into pickup"), s.flash()
        deadline, count = time.time() + 15, 0
        while count == 0 and time.time() < deadline:
            time.sleep(0.3)
            p = pop3_login(s, f"late@{NEW_DOMAIN}", "late pw")
            count = p.stat()[0]
            p.quit()
        assert count == 1, "the retried message was delivered"
        drop_in_pickup(s, "junk.eml", b"no envelope at all\r\n")
        assert wait_for_badmail(s, "junk.eml")
        s.submit("delete-junk.eml")
        assert s.flash() == "deleted junk.eml from Badmail", s.flash()
        assert "junk.eml" not in s.by_id("badmail").text
        assert not any(n.startswith("junk.eml") for n in os.listdir(os.path.join(s.h.root, ".poplar", "badmail")))
    finally:
        coord["proc"].terminate()
        coord["proc"].wait(timeout=20)
    s.go("/audit")
    text = s.by_id("audit").text
    assert "badmail.retry" in text and "badmail.delete" in text, text


@test
def rename_a_domain_and_fetch_under_the_new_name(s):
    """The domains page's Rename moves every mailbox; Python's poplib then fetches under the new name only."""
    s.h.cli("domain", "add", "before.test")
    s.h.cli("mailbox", "add", "dora@before.test", "--password-stdin", stdin=b"dora pw\n")
    s.h.cli("deliver", "dora@before.test", os.path.join(s.h.dir, "console-msg.eml"))
    from selenium.webdriver.common.by import By
    deadline = time.time() + 5  # the console reads the metabase again at most once a second
    s.go("/domains")
    while not s.driver.find_elements(By.ID, "rename-before.test") and time.time() < deadline:
        time.sleep(0.3)
        s.go("/domains")
    s.fill("rename-before.test", "after.test")
    s.submit("rename-before.test-button")
    assert s.flash() == "renamed domain before.test to after.test (1 mailbox moved)", s.flash()
    assert "after.test" in s.by_id("domains").text and "before.test" not in s.by_id("domains").text
    p = pop3_login(s, "dora@after.test", "dora pw")
    try:
        assert p.stat()[0] == 1
        assert b"Subject: from the console test" in b"\n".join(p.retr(1)[1])
        p.quit()
    finally:
        p.close()
    p = poplib.POP3("127.0.0.1", s.node["port"], timeout=30)
    try:
        p.user("dora@before.test")
        try:
            p.pass_("dora pw")
            raise AssertionError("the old name still logs in")
        except poplib.error_proto:
            pass
    finally:
        p.close()


@test
def a_form_without_its_csrf_token_is_refused(s):
    jar = http.cookiejar.CookieJar()
    for c in s.driver.get_cookies():
        jar.set_cookie(http.cookiejar.Cookie(0, c["name"], c["value"], None, False, "127.0.0.1", False, False, "/", True, True,
                                             None, False, None, None, {}))
    opener = plain_client(jar)
    status, headers, body = fetch(opener, s.console.url + "/domains")
    assert status == 200, (status, body[:200])  # the browser's session, reused here
    for h in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"):
        assert headers[h], h
    assert "script-src" not in headers["Content-Security-Policy"] and headers["X-Frame-Options"] == "DENY"
    form = urllib.parse.urlencode({"name": "nocsrf.test"}).encode()
    status, _, body = fetch(opener, s.console.url + "/domains/add", form)
    assert status == 403, (status, body[:200])
    form = urllib.parse.urlencode({"name": "nocsrf.test", "csrf": "forged"}).encode()
    status, _, body = fetch(opener, s.console.url + "/domains/add", form)
    assert status == 403, (status, body[:200])
    assert "nocsrf.test" not in s.h.cli("domain", "list").stdout.decode()


@test
def a_trusted_proxy_names_the_client_in_the_audit_log(s):
    """The console trusts 127.0.0.1 as a reverse proxy here (--trusted-proxy): the last X-Forwarded-For hop is the
    client, for the audit log and the auth penalty. No traffic goes to these addresses: they are only text."""
    opener = plain_client(http.cookiejar.CookieJar())
    status, _, body = fetch(opener, s.console.url + "/login")
    assert status == 200, status
    csrf = body.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    form = urllib.parse.urlencode({"csrf": csrf, "name": ADMIN, "password": ADMIN_PW}).encode()
    status, headers, _ = fetch(opener, s.console.url + "/login", form, {"X-Forwarded-For": "198.51.100.7, 203.0.113.9"})
    assert status == 303 and headers["Location"] == "/domains", status
    status, _, body = fetch(opener, s.console.url + "/audit")
    assert status == 200 and "<td>203.0.113.9</td><td>login</td>" in body, body[-1500:]
    assert "198.51.100.7" not in body, "only the hop the proxy appended is believed"


@test
def the_charts_show_the_last_hour_from_the_processes_own_metrics(s):
    """The POP3 sessions and logins of the tests before, counted by the node, published into the store every 10 s and
    drawn by the console as SVG (no script): sessions and logins above zero, every chart an <svg> element."""
    import re
    deadline = time.time() + 25
    s.go("/charts")
    summary = s.by_id("charts-summary").text

    def counts():
        return {k: int(v) for v, k in re.findall(r"(\d+) (sessions|logins ok|failed|deliveries)", summary)}
    # The node publishes every 10 s: wait until what the tests before did has been published.
    while (counts().get("logins ok", 0) < 4 or counts().get("failed", 0) < 1) and time.time() < deadline:
        time.sleep(1)
        s.go("/charts")
        summary = s.by_id("charts-summary").text
    counts = counts()
    assert counts.get("sessions", 0) >= 4 and counts.get("logins ok", 0) >= 4, summary
    assert counts.get("failed", 0) >= 1, "the old password's refusal was counted: " + summary
    assert counts.get("deliveries", 0) >= 1, "the retried Badmail file was delivered (the coordinator published at its stop): " + summary
    for chart in ("chart-sessions", "chart-logins", "chart-store", "chart-deliveries"):
        assert s.by_id(chart).tag_name == "svg", chart
    assert "<script" not in s.driver.page_source
    s.shot("13-charts")


@test
def the_cluster_page_shows_the_node_and_drains_it(s):
    """The cluster page lists the node with the session a real client holds; its Drain button makes the node refuse
    new logins with [SYS/TEMP] while that session finishes, and the node exits once it has. Last: the node is gone."""
    held = pop3_login(s, f"carla@{NEW_DOMAIN}", "second password")
    try:
        deadline = time.time() + 10
        s.go("/cluster")
        while f"carla@{NEW_DOMAIN}" not in s.by_id("nodes").text and time.time() < deadline:
            time.sleep(0.3)
            s.go("/cluster")
        nodes = s.by_id("nodes").text
        assert "n1" in nodes and "serving" in nodes and f"carla@{NEW_DOMAIN}" in nodes, nodes
        assert "1 nodes, 1 sessions, 1 mailboxes held" in s.by_id("cluster-summary").text, s.by_id("cluster-summary").text
        assert "delivery lease" in s.by_id("delivery").text, s.by_id("delivery").text
        coordinators = s.by_id("coordinators").text
        assert "not running" in coordinators, "the Badmail test's coordinator stopped cleanly: " + coordinators
        s.shot("09-cluster")
        s.submit("drain-n1")
        assert s.flash().startswith("asked node n1 to drain"), s.flash()
        deadline = time.time() + 10
        while "draining" not in s.by_id("nodes").text and time.time() < deadline:
            time.sleep(0.3)
            s.go("/cluster")
        assert "draining" in s.by_id("nodes").text, s.by_id("nodes").text
        other = poplib.POP3("127.0.0.1", s.node["port"], timeout=30)
        try:
            other.user(f"carla@{NEW_DOMAIN}")
            other.pass_("second password")
            raise AssertionError("a draining node let a new login in")
        except poplib.error_proto as e:
            assert b"[SYS/TEMP]" in e.args[0], e
        finally:
            other.close()
        assert held.stat()[0] == 1, "the session in flight goes on"
        held.quit()
    finally:
        held.close()
    s.node["proc"].wait(timeout=20)
    assert s.node["proc"].returncode == 0, s.node["proc"].returncode
    s.go("/audit")
    assert any("node.drain" in line and "n1" in line for line in s.by_id("audit").text.splitlines()), s.by_id("audit").text


@test
def logout_ends_the_session(s):
    s.go("/domains")
    s.submit("logout")
    assert s.path() == "/login", s.driver.current_url
    s.go("/audit")
    assert s.path() == "/login", s.driver.current_url


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--poplar", required=True)
    ap.add_argument("-k", dest="pattern")
    ap.add_argument("--screenshots", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".build",
                                                           "console-screenshots"))
    args = ap.parse_args()
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (python)")
    if missing:
        print(f"FAIL console_browser: missing {', '.join(missing)} (Tests/run-tests installs chromium, chromium-driver, selenium)")
        print("0 passed, 1 failed")
        return 1
    h = Harness(os.path.abspath(args.poplar))
    state = {}
    stop_before_teardown(h, state, "suite", "console")

    def prepare():
        h.cli("admin-user", "add", ADMIN, "--password-stdin", stdin=(ADMIN_PW + "\n").encode())
        with open(os.path.join(h.dir, "console-msg.eml"), "wb") as f:
            f.write(b"Subject: from the console test\r\n\r\nhello\r\n")
        node = h.start_node("--registry-interval", "0.5")  # kick and drain are read at the node's registry updates
        state["console"] = Console(h)
        shots = os.path.abspath(args.screenshots)
        shutil.rmtree(shots, ignore_errors=True)
        state["suite"] = Suite(h, state["console"], node, shots)
        print(f"screenshots in {shots}", flush=True)
        return lambda fn: fn(state["suite"])

    return run_suite(h, TESTS, args.pattern, prepare, 120)


if __name__ == "__main__":
    sys.exit(main())
