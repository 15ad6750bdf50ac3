import Foundation
import Console
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SharedStore
import XCTest

/// The HTTP API through the router: bearer tokens, the one error shape, the console's operations as JSON, each
/// audited as the token's administrator. schemathesis checks it against its OpenAPI document over real HTTPS
/// (Tests/clients/console_api.py).
extension ConsoleRouteTests {
    static func api(_ client: any TestClientProtocol, _ token: String?, _ method: HTTPRequest.Method, _ uri: String,
                    _ body: String? = nil) async throws -> (HTTPResponse.Status, [String: Any]) {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        if body != nil { headers[.contentType] = "application/json" }
        let r = try await client.execute(uri: "/api/v1" + uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        XCTAssertEqual(r.headers[.contentType], "application/json", uri)
        let object = (try? JSONSerialization.jsonObject(with: Data(buffer: r.body))) as? [String: Any] ?? [:]
        return (r.status, object)
    }

    static func errorCode(_ object: [String: Any]) -> String? { (object["error"] as? [String: Any])?["code"] as? String }

    func testAPITokensErrorsAndOperations() async throws {
        try await withConsole { f, client in
            let (token, record) = try f.store.makeAPIToken(admin: "root", days: nil)
            // No token, a wrong one, a cookie session instead: 401 in the error shape.
            var (status, body) = try await Self.api(client, nil, .get, "/domains")
            XCTAssertEqual(status, .unauthorized)
            XCTAssertEqual(Self.errorCode(body), "unauthorized")
            (status, body) = try await Self.api(client, String(token.dropLast()) + "x", .get, "/domains")
            XCTAssertEqual(status, .unauthorized)
            var (b, _) = try await Self.logIn(client)
            b.take(try await client.execute(uri: "/domains", method: .get, headers: b.headers))
            let withCookie = try await client.execute(uri: "/api/v1/domains", method: .get, headers: b.headers)
            XCTAssertEqual(withCookie.status, .unauthorized, "the console's cookie is not an API credential")
            // The document needs no token.
            let doc = try await client.execute(uri: "/api/v1/openapi.yaml", method: .get)
            XCTAssertEqual(doc.status, .ok)
            XCTAssertTrue(String(buffer: doc.body).hasPrefix("openapi: 3.1.0"))

            (status, body) = try await Self.api(client, token, .post, "/domains", #"{"name": "api.test"}"#)
            XCTAssertEqual(status, .created)
            XCTAssertEqual(body["name"] as? String, "api.test")
            (status, body) = try await Self.api(client, token, .post, "/domains", #"{"name": "api.test"}"#)
            XCTAssertEqual(status, .conflict)
            XCTAssertEqual(Self.errorCode(body), "already_exists")
            (status, body) = try await Self.api(client, token, .post, "/mailboxes", #"{"address": "ann@api.test", "password": "pw one", "quota": "5M"}"#)
            XCTAssertEqual(status, .created)
            XCTAssertEqual(body["quota"] as? Int, 5 << 20)
            XCTAssertEqual((body["lock"] as? [String: Any])?["state"] as? String, "free")
            (status, body) = try await Self.api(client, token, .get, "/mailboxes/ann%40api.test")
            XCTAssertEqual(status, .ok)
            XCTAssertEqual(body["address"] as? String, "ann@api.test")
            (status, _) = try await Self.api(client, token, .put, "/mailboxes/ann%40api.test/password", #"{"password": "pw two"}"#)
            XCTAssertEqual(status, .ok)
            XCTAssertTrue(PasswordHasher.verify(password: Array("pw two".utf8), record: try f.store.passwordRecord(try MailboxAddress(parsing: "ann@api.test")),
                                                guid: f.store.guid))
            (status, body) = try await Self.api(client, token, .get, "/domains/api.test/mailboxes?search=an&limit=10")
            XCTAssertEqual(body["mailboxes"] as? [String], ["ann@api.test"])

            // Bad input: a 4xx with a code, never a crash or an HTML page.
            for (method, uri, json, expected, code) in [
                (HTTPRequest.Method.post, "/mailboxes", #"{"address": 5}"#, HTTPResponse.Status.badRequest, "invalid"),
                (.post, "/mailboxes", #"["not", "an", "object"]"#, .badRequest, "bad_request"),
                (.post, "/mailboxes", #"{"address": "x@api.test", "apop": 1}"#, .badRequest, "invalid"),
                (.put, "/mailboxes/ann%40api.test/quota", #"{"quota": "2 parsecs"}"#, .badRequest, "invalid"),
                (.get, "/mailboxes/nobody%40api.test", nil, .notFound, "not_found"),
                (.get, "/domains/api.test/mailboxes?limit=0", nil, .badRequest, "invalid"),
                (.delete, "/domains/api.test?purge=maybe", nil, .badRequest, "invalid"),
                (.get, "/no/such/thing", nil, .notFound, "not_found"),
            ] as [(HTTPRequest.Method, String, String?, HTTPResponse.Status, String)] {
                let (s, o) = try await Self.api(client, token, method, uri, json)
                XCTAssertEqual(s, expected, "\(method) \(uri)")
                XCTAssertEqual(Self.errorCode(o), code, "\(method) \(uri)")
            }
            let big = String(repeating: "x", count: ConsoleLimits.maxBodyBytes + 1)
            (status, body) = try await Self.api(client, token, .post, "/domains", #"{"name": ""# + big + #""}"#)
            XCTAssertEqual(status, .contentTooLarge)
            XCTAssertEqual(Self.errorCode(body), "too_large")

            let audit = try f.admin.recentAudit(limit: 5)
            XCTAssertEqual(audit.first?.action, "mailbox.passwd")
            XCTAssertEqual(audit.first?.who, "root", "audited as the token's administrator")

            // Revoked: refused at once.
            try f.store.revokeAPIToken(record.id)
            (status, _) = try await Self.api(client, token, .get, "/domains")
            XCTAssertEqual(status, .unauthorized)
        }
    }
}
