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
}
