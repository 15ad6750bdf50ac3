import Foundation
import HummingbirdTesting
import SharedStore
import XCTest

/// The delivery page through the router: Badmail listed with its reason, a message shown escaped, retry and delete
/// only with the form's token, each audited.
extension ConsoleRouteTests {
    func testDeliveryPageBadmailRetryAndDelete() async throws {
        try await withConsole { f, client in
            let v = f.store.volume
            for dir in [MailStore.pickupDir, MailStore.badmailDir] { try v.mkdir(dir) }
            try v.writeFile(try MailStore.badmailDir.appending("m1.eml"), Array("Subject: <script>x</script>\r\n\r\nhi\r\n".utf8), exclusive: true)
            try v.writeFile(try MailStore.badmailDir.appending("m1.eml.reason"), Array("not delivered to: <b>@x\n".utf8), exclusive: true)
            var (b, _) = try await Self.logIn(client)
            let page = try await client.execute(uri: "/delivery", method: .get, headers: b.headers)
            b.take(page)
            let html = String(buffer: page.body)
            XCTAssertTrue(html.contains("Pickup: 0 files waiting") && html.contains("m1.eml"), html)
            XCTAssertTrue(html.contains("not delivered to: &lt;b&gt;@x") && !html.contains("<b>@x"), "the reason escaped")
            let look = String(buffer: try await client.execute(uri: "/delivery/badmail?name=m1.eml", method: .get, headers: b.headers).body)
            XCTAssertTrue(look.contains("Subject: &lt;script&gt;x&lt;/script&gt;") && !look.contains("<script>x"), look)
            let hostile = try await client.execute(uri: "/delivery/badmail?name=..%2F..%2F.poplar%2Fcluster", method: .get, headers: b.headers)
            XCTAssertEqual(hostile.status, .seeOther, "a name that is not Badmail's goes back to the page with the error")

            let forged = try await Self.post(client, b, "/delivery/retry", ["name": "m1.eml"])
            XCTAssertEqual(forged.status, .forbidden)
            XCTAssertTrue(try v.exists(try MailStore.badmailDir.appending("m1.eml")))
            _ = try await Self.post(client, b, "/delivery/retry", ["csrf": b.csrf, "name": "m1.eml"])
            XCTAssertTrue(try v.exists(try MailStore.pickupDir.appending("m1.eml")))
            XCTAssertEqual(try f.admin.recentAudit(limit: 1).first?.action, "badmail.retry")
            try v.writeFile(try MailStore.badmailDir.appending("m2.eml"), Array("x".utf8), exclusive: true)
            _ = try await Self.post(client, b, "/delivery/delete", ["csrf": b.csrf, "name": "m2.eml"])
            XCTAssertFalse(try v.exists(try MailStore.badmailDir.appending("m2.eml")))
            XCTAssertEqual(try f.admin.recentAudit(limit: 1).first?.action, "badmail.delete")
        }
    }
}
