import Foundation
import HummingbirdTesting
import SharedStore
import XCTest

/// The cluster page and its Drain button through the router.
extension ConsoleRouteTests {
    func testClusterPageListsNodesAndDrainNeedsCSRF() async throws {
        try await withConsole { f, client in
            try f.store.publishNode(NodeRecord(node: "web1", address: "127.0.0.1:110", version: "t", pid: 1, started: Date(), updated: Date(),
                                               beat: 1, draining: false,
                                               sessions: [.init(mailbox: "<b>x@example.test", session: "s1", peer: "127.0.0.1", since: Date())]))
            var (b, _) = try await Self.logIn(client)
            let page = try await client.execute(uri: "/cluster", method: .get, headers: b.headers)
            XCTAssertEqual(page.status, .ok)
            b.take(page)
            let html = String(buffer: page.body)
            XCTAssertTrue(html.contains("web1") && html.contains("1 nodes, 1 sessions, 1 mailboxes held"), html)
            XCTAssertTrue(html.contains("no coordinator holds the delivery lease"), html)
            XCTAssertTrue(html.contains("&lt;b&gt;x@example.test") && !html.contains("<b>x@"), "escaped")
            let forged = try await Self.post(client, b, "/cluster/drain", ["node": "web1"])
            XCTAssertEqual(forged.status, .forbidden)
            XCTAssertFalse(try f.store.pendingControl(node: "web1").drain)
            let drained = try await Self.post(client, b, "/cluster/drain", ["csrf": b.csrf, "node": "web1"])
            XCTAssertEqual(drained.status, .seeOther)
            XCTAssertTrue(try f.store.pendingControl(node: "web1").drain)
            XCTAssertEqual(try f.admin.recentAudit(limit: 1).first?.action, "node.drain")
        }
    }

    func testKickAndUnlockNeedCSRFAndAct() async throws {
        try await withConsole { f, client in
            try f.admin.addDomain("example.test", by: .commandLine(host: "t"))
            let a = try f.admin.addMailbox("bob@example.test", password: "pw", allowAPOP: false, quota: nil, by: .commandLine(host: "t"))
            let session = try f.store.openSession(a, node: "n1", session: "s1")
            var (b, _) = try await Self.logIn(client)
            b.take(try await client.execute(uri: "/mailbox?address=bob@example.test", method: .get, headers: b.headers))
            let r1 = try await Self.post(client, b, "/mailbox/kick", ["address": "bob@example.test"])
            XCTAssertEqual(r1.status, .forbidden)
            let r2 = try await Self.post(client, b, "/mailbox/unlock", ["address": "bob@example.test"])
            XCTAssertEqual(r2.status, .forbidden)
            XCTAssertTrue(try f.store.pendingControl(node: "n1").kicks.isEmpty)
            let r3 = try await Self.post(client, b, "/mailbox/kick", ["csrf": b.csrf, "address": "bob@example.test"])
            XCTAssertEqual(r3.status, .seeOther)
            XCTAssertEqual(try f.store.pendingControl(node: "n1").kicks, ["s1"])
            try session.release()
            try f.store.adminLock(a, by: "admin-test")
            let r4 = try await Self.post(client, b, "/mailbox/unlock", ["csrf": b.csrf, "address": "bob@example.test"])
            XCTAssertEqual(r4.status, .seeOther)
            XCTAssertEqual(try f.store.lockState(a), .free)
            XCTAssertEqual(try f.admin.recentAudit(limit: 2).map(\.action), ["mailbox.unlock", "mailbox.kick"])
        }
    }
}
