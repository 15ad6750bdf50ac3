import Admin
import Console
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import NIOPosix
import Node
import ServerSupport
import SharedStore
import Synchronization
import XCTest

/// The console's request handlers through Hummingbird's router test framework (no sockets, no TLS).
final class ConsoleRouteTests: XCTestCase {
    /// A clock the tests move.
    final class TestClock: Sendable {
        let value = Mutex(Date())
        func now() -> Date { value.withLock { $0 } }
        func advance(_ seconds: Double) { value.withLock { $0 = $0.addingTimeInterval(seconds) } }
    }

    /// A browser's state: the session cookie and the last page's CSRF token.
    struct Browser {
        var cookie = ""
        var csrf = ""

        var headers: HTTPFields {
            var h = HTTPFields()
            if !cookie.isEmpty { h[.cookie] = "poplar_console=\(cookie)" }
            return h
        }

        mutating func take(_ response: TestResponse) {
            for value in response.headers[values: .setCookie] where value.hasPrefix("poplar_console=") {
                cookie = String(value.dropFirst("poplar_console=".count).prefix { $0 != ";" })
            }
            let html = String(buffer: response.body)
            if let r = html.range(of: "name=\"csrf\" value=\"") {
                csrf = String(html[r.upperBound...].prefix { $0 != "\"" })
            }
        }
    }

    static func form(_ fields: [String: String]) -> ByteBuffer {
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        return ByteBuffer(string: fields.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&"))
    }

    func withConsole(idle: Double = 900, penalty: AuthPenalty.Policy = AuthPenalty.Policy(), clock: TestClock = TestClock(),
                     _ test: @Sendable (ConsoleFixture, any TestClientProtocol) async throws -> Void) async throws {
        let f = try ConsoleFixture()
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        do {
            let app = try ConsoleServer.application(store: f.store, pool: pool, idleSeconds: idle, penalty: penalty, now: { clock.now() },
                                                    logger: Logger(label: "console-test"))
            try await app.test(.router) { client in try await test(f, client) }
        } catch {
            try? await pool.shutdownGracefully()
            throw error
        }
        try await pool.shutdownGracefully()
    }

    /// GET /login, then POST the form: the browser holds the logged-in session.
    static func logIn(_ client: any TestClientProtocol, password: String = ConsoleFixture.adminPassword) async throws -> (Browser, TestResponse) {
        var b = Browser()
        b.take(try await client.execute(uri: "/login", method: .get))
        var headers = b.headers
        headers[.contentType] = "application/x-www-form-urlencoded"
        let response = try await client.execute(uri: "/login", method: .post, headers: headers,
                                                body: form(["csrf": b.csrf, "name": "root", "password": password]))
        b.take(response)
        return (b, response)
    }

    static func post(_ client: any TestClientProtocol, _ b: Browser, _ uri: String, _ fields: [String: String]) async throws -> TestResponse {
        var headers = b.headers
        headers[.contentType] = "application/x-www-form-urlencoded"
        return try await client.execute(uri: uri, method: .post, headers: headers, body: form(fields))
    }

    func testNoSessionRedirectsToLoginWithSecurityHeaders() async throws {
        try await withConsole { _, client in
            for uri in ["/domains", "/mailboxes", "/audit", "/mailbox?address=a@b.test"] {
                let r = try await client.execute(uri: uri, method: .get)
                XCTAssertEqual(r.status, .seeOther, uri)
                XCTAssertEqual(r.headers[.location], "/login", uri)
                XCTAssertEqual(r.headers[HTTPField.Name("X-Frame-Options")!], "DENY")
                XCTAssertEqual(r.headers[HTTPField.Name("X-Content-Type-Options")!], "nosniff")
                XCTAssertEqual(r.headers[HTTPField.Name("Referrer-Policy")!], "no-referrer")
                let csp = try XCTUnwrap(r.headers[HTTPField.Name("Content-Security-Policy")!])
                XCTAssertTrue(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'") && !csp.contains("script-src"))
            }
            let post = try await client.execute(uri: "/domains/add", method: .post, body: Self.form(["name": "x.test"]))
            XCTAssertEqual(post.status, .seeOther)
        }
    }

    func testLoginCookieAndCSRF() async throws {
        try await withConsole { f, client in
            let page = try await client.execute(uri: "/login", method: .get)
            XCTAssertEqual(page.status, .ok)
            let cookie = try XCTUnwrap(page.headers[values: .setCookie].first { $0.hasPrefix("poplar_console=") })
            XCTAssertTrue(cookie.contains("HttpOnly"), cookie)
            XCTAssertTrue(cookie.contains("Secure"), cookie)
            XCTAssertTrue(cookie.contains("SameSite=Strict"), cookie)
            XCTAssertFalse(String(buffer: page.body).contains("<script"))
            var b = Browser()
            b.take(page)
            // The login form without its token, or with another: 403.
            for token in ["", "forged"] {
                let r = try await Self.post(client, b, "/login", ["csrf": token, "name": "root", "password": ConsoleFixture.adminPassword])
                XCTAssertEqual(r.status, .forbidden)
            }
            let wrong = try await Self.post(client, b, "/login", ["csrf": b.csrf, "name": "root", "password": "wrong"])
            XCTAssertEqual(wrong.status, .unauthorized)
            let (logged, ok) = try await Self.logIn(client)
            XCTAssertEqual(ok.status, .seeOther)
            XCTAssertEqual(ok.headers[.location], "/domains")
            XCTAssertNotEqual(logged.cookie, b.cookie, "a new session token at login")
            // A change without the token is refused, and nothing changes.
            var noToken = logged
            noToken.csrf = ""
            let refused = try await Self.post(client, noToken, "/domains/add", ["name": "refused.test"])
            XCTAssertEqual(refused.status, .forbidden)
            XCTAssertEqual(try f.admin.domains(), [])
            // The old (login page) token is no session.
            let old = try await client.execute(uri: "/domains", method: .get, headers: b.headers)
            XCTAssertEqual(old.status, .seeOther)
        }
    }

    func testDomainsMailboxesPasswordQuotaAndAudit() async throws {
        try await withConsole { f, client in
            var (b, _) = try await Self.logIn(client)
            b.take(try await client.execute(uri: "/domains", method: .get, headers: b.headers))
            let added = try await Self.post(client, b, "/domains/add", ["csrf": b.csrf, "name": "example.test"])
            XCTAssertEqual(added.status, .seeOther)
            let domains = try await client.execute(uri: "/domains", method: .get, headers: b.headers)
            let html = String(buffer: domains.body)
            XCTAssertTrue(html.contains("added domain example.test"), html)
            XCTAssertTrue(html.contains("<a href=\"/mailboxes?domain=example.test\">example.test</a>"))
            // A refused name is shown, escaped.
            _ = try await Self.post(client, b, "/domains/add", ["csrf": b.csrf, "name": "<script>x.test"])
            let refusedPage = String(buffer: try await client.execute(uri: "/domains", method: .get, headers: b.headers).body)
            XCTAssertTrue(refusedPage.contains("&lt;script&gt;"), refusedPage)
            XCTAssertFalse(refusedPage.contains("<script"))

            let mailbox = try await Self.post(client, b, "/mailboxes/add", ["csrf": b.csrf, "domain": "example.test", "mailbox": "alice",
                                                                            "password": "first", "quota": "10M"])
            XCTAssertEqual(mailbox.headers[.location], "/mailboxes?domain=example.test")
            let evil = "<script>&'x"
            _ = try await Self.post(client, b, "/mailboxes/add", ["csrf": b.csrf, "domain": "example.test", "mailbox": evil, "password": "pw"])
            let list = String(buffer: try await client.execute(uri: "/mailboxes?domain=example.test", method: .get, headers: b.headers).body)
            XCTAssertTrue(list.contains("alice@example.test"), list)
            XCTAssertTrue(list.contains("&lt;script&gt;&amp;&#39;x@example.test"), list)
            XCTAssertFalse(list.contains("<script"))
            let search = String(buffer: try await client.execute(uri: "/mailboxes?domain=example.test&q=ali", method: .get, headers: b.headers).body)
            XCTAssertTrue(search.contains("alice@example.test"))
            XCTAssertFalse(search.contains("&lt;script&gt;"))

            let reset = try await Self.post(client, b, "/mailbox/password", ["csrf": b.csrf, "address": "alice@example.test", "password": "second"])
            XCTAssertEqual(reset.headers[.location], "/mailbox?address=alice%40example.test")
            let alice = try MailboxAddress(parsing: "alice@example.test")
            XCTAssertTrue(PasswordHasher.verify(password: Array("second".utf8), record: try f.store.passwordRecord(alice), guid: f.store.guid))
            _ = try await Self.post(client, b, "/mailbox/quota", ["csrf": b.csrf, "address": "alice@example.test", "quota": "2G"])
            XCTAssertEqual(try f.store.mailboxInfo(alice).quota, 2 << 30)
            let shown = String(buffer: try await client.execute(uri: "/mailbox?address=alice%40example.test", method: .get, headers: b.headers).body)
            XCTAssertTrue(shown.contains("quota of alice@example.test: 2 GiB"), shown)
            XCTAssertTrue(shown.contains("2 GiB (2147483648 bytes)"))

            // Removal needs its box ticked.
            _ = try await Self.post(client, b, "/mailbox/remove", ["csrf": b.csrf, "address": "\(evil)@example.test"])
            XCTAssertTrue(try f.store.mailboxExists(try MailboxAddress(parsing: "\(evil)@example.test")))
            let removed = try await Self.post(client, b, "/mailbox/remove", ["csrf": b.csrf, "address": "\(evil)@example.test", "confirm": "1"])
            XCTAssertEqual(removed.headers[.location], "/mailboxes?domain=example.test")
            XCTAssertFalse(try f.store.mailboxExists(try MailboxAddress(parsing: "\(evil)@example.test")))

            let audit = String(buffer: try await client.execute(uri: "/audit", method: .get, headers: b.headers).body)
            for action in ["login", "domain.add", "mailbox.add", "mailbox.passwd", "mailbox.quota", "mailbox.remove"] {
                XCTAssertTrue(audit.contains("<td>\(action)</td>"), action)
            }
            XCTAssertTrue(audit.contains("&lt;script&gt;&amp;&#39;x@example.test"))
            XCTAssertFalse(audit.contains("<script"))
            XCTAssertFalse(audit.contains("second"), "no password in the audit log")
            let entries = try f.admin.recentAudit(limit: 10)
            XCTAssertEqual(entries.first?.who, "root")
            XCTAssertEqual(entries.first?.action, "mailbox.remove")

            let out = try await Self.post(client, b, "/logout", ["csrf": b.csrf])
            XCTAssertEqual(out.headers[.location], "/login")
            let r1 = try await client.execute(uri: "/domains", method: .get, headers: b.headers)
            XCTAssertEqual(r1.status, .seeOther)
        }
    }

    func testBoundsAndReflectedInput() async throws {
        try await withConsole { f, client in
            var (b, _) = try await Self.logIn(client)
            b.take(try await client.execute(uri: "/domains", method: .get, headers: b.headers))
            // A body past ConsoleLimits.maxBodyBytes: 413, nothing read into a form.
            var headers = b.headers
            headers[.contentType] = "application/x-www-form-urlencoded"
            let big = ByteBuffer(string: "csrf=\(b.csrf)&name=" + String(repeating: "a", count: ConsoleLimits.maxBodyBytes))
            let tooLarge = try await client.execute(uri: "/domains/add", method: .post, headers: headers, body: big)
            XCTAssertEqual(tooLarge.status, .contentTooLarge)
            // Too many fields, or a field too long: 400.
            let fields = (0..<20).map { "f\($0)=1" }.joined(separator: "&")
            let many = try await client.execute(uri: "/domains/add", method: .post, headers: headers, body: ByteBuffer(string: "csrf=\(b.csrf)&" + fields))
            XCTAssertEqual(many.status, .badRequest)
            // Not a form: 415.
            let json = try await client.execute(uri: "/domains/add", method: .post, headers: b.headers, body: ByteBuffer(string: "{}"))
            XCTAssertEqual(json.status, .unsupportedMediaType)
            XCTAssertEqual(try f.admin.domains(), [])
            // A search is shown back escaped.
            try f.admin.addDomain("example.test", by: .commandLine(host: "test"))
            let page = try await client.execute(uri: "/mailboxes?domain=example.test&q=%22%3E%3Cscript%3E", method: .get, headers: b.headers)
            let html = String(buffer: page.body)
            XCTAssertTrue(html.contains("value=\"&quot;&gt;&lt;script&gt;\""), html)
            XCTAssertFalse(html.contains("<script"))
            // An unknown page is 404 with the security headers; logged out, it is the login page.
            let missing = try await client.execute(uri: "/nothing", method: .get, headers: b.headers)
            XCTAssertEqual(missing.status, .notFound)
            XCTAssertEqual(missing.headers[HTTPField.Name("X-Frame-Options")!], "DENY")
            let anonymous = try await client.execute(uri: "/nothing", method: .get)
            XCTAssertEqual(anonymous.status, .seeOther)
        }
    }

    func testIdleExpiryAndRemovedAdministrator() async throws {
        let clock = TestClock()
        try await withConsole(idle: 60, clock: clock) { f, client in
            let (b, _) = try await Self.logIn(client)
            clock.advance(50)
            let r2 = try await client.execute(uri: "/domains", method: .get, headers: b.headers)
            XCTAssertEqual(r2.status, .ok)
            clock.advance(50)
            let r3 = try await client.execute(uri: "/domains", method: .get, headers: b.headers)
            XCTAssertEqual(r3.status, .ok, "idle time restarts")
            clock.advance(61)
            let expired = try await client.execute(uri: "/domains", method: .get, headers: b.headers)
            XCTAssertEqual(expired.status, .seeOther)
            XCTAssertEqual(expired.headers[.location], "/login")
            let (again, _) = try await Self.logIn(client)
            try f.admin.removeAdmin("root", by: .commandLine(host: "test"))
            let r4 = try await client.execute(uri: "/domains", method: .get, headers: again.headers)
            XCTAssertEqual(r4.status, .seeOther)
        }
    }

    /// Console logins go through the cluster-wide auth penalty: failures are counted in the store's penalty
    /// records and later checks wait (here a peer of unknown address, counted as one network, nothing exempt).
    func testLoginFailuresArePenalised() async throws {
        let policy = AuthPenalty.Policy(base: 0.3, maximum: 1, window: 60, maxWait: 5, exempt: TrustedNetworks())
        try await withConsole(penalty: policy) { f, client in
            var b = Browser()
            b.take(try await client.execute(uri: "/login", method: .get))
            let started = Date()
            for _ in 0..<3 {
                let r = try await Self.post(client, b, "/login", ["csrf": b.csrf, "name": "root", "password": "guess"])
                XCTAssertEqual(r.status, .unauthorized)
            }
            let elapsed = Date().timeIntervalSince(started)
            XCTAssertGreaterThan(elapsed, 0.3 + 0.6, "three failures are answered after growing delays")
            let record = try XCTUnwrap(try f.store.penaltyRecord(named: f.store.penaltyName("net:unknown")))
            XCTAssertGreaterThanOrEqual(record.failures, 3)
        }
    }
}
