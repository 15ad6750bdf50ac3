import Foundation
import HummingbirdTesting
import SharedStore
import XCTest

/// The console's rename forms: a mailbox and a whole domain move, refused while a session holds a mailbox they
/// move, each audited; a form without its token does nothing.
extension ConsoleRouteTests {
    func testRenameAMailboxAndADomain() async throws {
        try await withConsole { f, client in
            var (b, _) = try await Self.logIn(client)
            b.take(try await client.execute(uri: "/domains", method: .get, headers: b.headers))  // the logged-in session's token
            _ = try await Self.post(client, b, "/domains/add", ["csrf": b.csrf, "name": "old.test"])
            for name in ["alice", "bob"] {
                _ = try await Self.post(client, b, "/mailboxes/add", ["csrf": b.csrf, "domain": "old.test", "mailbox": name, "password": "pw"])
            }
            _ = try f.store.deliver(to: try MailboxAddress(parsing: "alice@old.test"), message: Array("Subject: s\r\n\r\nx\r\n".utf8), enforceQuota: false)

            let forged = try await Self.post(client, b, "/mailbox/rename", ["address": "alice@old.test", "new": "ann@old.test"])
            XCTAssertEqual(forged.status, .forbidden)
            let renamed = try await Self.post(client, b, "/mailbox/rename", ["csrf": b.csrf, "address": "alice@old.test", "new": "ann@old.test"])
            XCTAssertEqual(renamed.headers[.location], "/mailboxes?domain=old.test")
            let ann = try MailboxAddress(parsing: "ann@old.test")
            XCTAssertFalse(try f.store.mailboxExists(try MailboxAddress(parsing: "alice@old.test")))
            XCTAssertEqual(try f.store.mailboxInfo(ann).messageCount, 1, "the messages moved with it")
            let list = String(buffer: try await client.execute(uri: "/mailboxes?domain=old.test", method: .get, headers: b.headers).body)
            XCTAssertTrue(list.contains("renamed alice@old.test to ann@old.test"), list)

            // Refused while a session holds one of the domain's mailboxes: nothing moves.
            let session = try f.store.openSession(ann, node: "n1", session: "s1")
            _ = try await Self.post(client, b, "/domains/rename", ["csrf": b.csrf, "name": "old.test", "new": "new.test"])
            let refused = String(buffer: try await client.execute(uri: "/domains", method: .get, headers: b.headers).body)
            XCTAssertTrue(refused.contains("in use by a session on node n1"), refused)
            XCTAssertTrue(try f.store.isDomainAccepted("old.test"))
            XCTAssertFalse(try f.store.isDomainAccepted("new.test"))
            try session.release()

            let moved = try await Self.post(client, b, "/domains/rename", ["csrf": b.csrf, "name": "old.test", "new": "new.test"])
            XCTAssertEqual(moved.headers[.location], "/domains")
            let page = String(buffer: try await client.execute(uri: "/domains", method: .get, headers: b.headers).body)
            XCTAssertTrue(page.contains("renamed domain old.test to new.test (2 mailboxes moved)"), page)
            XCTAssertTrue(page.contains("id=\"rename-new.test\""), page)
            XCTAssertFalse(try f.store.isDomainAccepted("old.test"))
            XCTAssertEqual(try f.store.mailboxInfo(try MailboxAddress(parsing: "ann@new.test")).messageCount, 1)
            XCTAssertTrue(try f.store.mailboxExists(try MailboxAddress(parsing: "bob@new.test")))

            let actions = try f.admin.recentAudit(limit: 10).map { "\($0.action) \($0.target) \($0.detail)" }
            XCTAssertTrue(actions.contains("domain.rename old.test to=new.test mailboxes=2"), "\(actions)")
            XCTAssertTrue(actions.contains("mailbox.rename alice@old.test to=ann@old.test"), "\(actions)")
        }
    }
}
