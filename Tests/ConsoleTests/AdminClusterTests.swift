import Admin
import Foundation
import SharedStore
import XCTest

/// The admin library's cluster and lock operations: the registry and delivery lease read, drain, kick, unlock.
final class AdminClusterTests: XCTestCase {
    let cli = AdminActor.commandLine(host: "test-host")

    func testStatusDrainKickAndUnlockAreAudited() throws {
        let f = try ConsoleFixture()
        try f.admin.addDomain("example.test", by: cli)
        let a = try f.admin.addMailbox("alice@example.test", password: "pw1", allowAPOP: false, quota: nil, by: cli)
        let empty = try f.admin.clusterStatus()
        XCTAssertTrue(empty.nodes.isEmpty)
        XCTAssertNil(empty.activeCoordinator)
        XCTAssertThrowsError(try f.admin.drainNode("n1", by: cli)) { XCTAssertEqual(($0 as? AdminError)?.kind, .notFound) }
        let session = try f.store.openSession(a, node: "n1", session: "s1")
        try f.store.publishNode(NodeRecord(node: "n1", address: "127.0.0.1:110", version: "t", pid: 1, started: Date(), updated: Date(),
                                           beat: 1, draining: false,
                                           sessions: [.init(mailbox: a.description, session: "s1", peer: "127.0.0.1", since: Date())]))
        let status = try f.admin.clusterStatus()
        XCTAssertEqual(status.nodes.map(\.node), ["n1"])
        XCTAssertEqual(status.heldMailboxes, ["alice@example.test"])
        XCTAssertThrowsError(try f.admin.kick("alice@example.test", session: "other", by: cli))
        XCTAssertEqual(try f.admin.kick("alice@example.test", session: "s1", by: cli)?.node, "n1")
        XCTAssertEqual(try f.store.pendingControl(node: "n1").kicks, ["s1"])
        XCTAssertThrowsError(try f.admin.unlock("alice@example.test", by: cli))
        try session.release()
        try f.admin.drainNode("n1", by: cli)
        XCTAssertTrue(try f.store.pendingControl(node: "n1").drain)
        try f.store.adminLock(a, by: "admin-test")
        try f.admin.unlock("alice@example.test", by: cli)
        if case .free = try f.admin.lockState("alice@example.test").1 {} else { XCTFail("still locked") }
        let actions = try f.admin.recentAudit(limit: 3).map(\.action)
        XCTAssertEqual(actions, ["mailbox.unlock", "node.drain", "mailbox.kick"])
    }
}
