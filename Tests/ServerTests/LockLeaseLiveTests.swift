import Foundation
import SharedStore
import XCTest

@testable import Node

/// The node keeps its mailbox lock's lease alive and ends a session that lost it (docs/lock-protocol.md, H1–H3),
/// over real sockets with a short lease. Another "node" is a second store on the same mail root.
final class LockLeaseLiveTests: XCTestCase {
    var fixture: NodeFixture!
    static let lease = LockLease(milliseconds: 600)

    override func setUp() async throws {
        fixture = try NodeFixture(lease: Self.lease)
    }

    override func tearDown() async throws {
        await fixture.stop()
    }

    /// A second node on the same root, reaching it without the fixture's fault switch.
    func otherNode() throws -> MailStore {
        try MailStore.open(volume: fixture.volume.inner, guid: fixture.store.guid)
    }

    func testHeartbeatsKeepTheMailboxForManyLeases() async throws {
        let alice = try fixture.addMailbox("alice")
        try fixture.deliver("Subject: x\r\n\r\nx\r\n", to: alice)
        try await fixture.start()
        let c = try fixture.login(alice)
        let other = try otherNode()
        let until = Date().addingTimeInterval(Double(Self.lease.milliseconds) / 1000 * 4)
        var refusals = 0
        while Date() < until {
            XCTAssertThrowsError(try other.openSession(alice, node: "other", session: "s")) { e in
                guard case .inUse(let holder) = e as? LockRefusal else { return XCTFail("\(e)") }
                XCTAssertEqual(holder.node, "testnode")
            }
            refusals += 1
            usleep(50_000)
        }
        XCTAssertGreaterThan(refusals, 10)
        guard case .session(let record) = try fixture.store.lockState(alice) else { return XCTFail("not held") }
        XCTAssertGreaterThanOrEqual(record.beat, 5, "a heartbeat every L/3")
        XCTAssertTrue(try c.command("STAT").hasPrefix("+OK 1 "))
        XCTAssertTrue(try c.command("DELE 1").hasPrefix("+OK"))
        XCTAssertTrue(try c.command("QUIT").hasPrefix("+OK"))
        XCTAssertEqual(try fixture.store.mailboxInfo(alice).messageCount, 0)
        XCTAssertEqual(try fixture.store.lockState(alice), .free)
    }

    // The store goes away under a session: it ends before its lease can run out elsewhere, deleting nothing;
    // another node takes over after a lease; the old node's release, once the store is back, leaves it alone.
    func testSessionThatCannotHeartbeatEndsAndAnotherNodeTakesOver() async throws {
        let alice = try fixture.addMailbox("alice")
        try fixture.deliver("Subject: x\r\n\r\nx\r\n", to: alice)
        try await fixture.start()
        let c = try fixture.login(alice)
        XCTAssertTrue(try c.command("DELE 1").hasPrefix("+OK"))
        fixture.volume.failing.withLockedValue { $0 = true }
        let cut = Date()
        XCTAssertTrue(c.isClosedByServer(), "the node ends a session that lost its lease")
        XCTAssertLessThan(Date().timeIntervalSince(cut), Double(Self.lease.milliseconds) / 1000 + 0.5)
        let other = try otherNode()
        var taken: MailboxSession?
        let deadline = Date().addingTimeInterval(5)
        while taken == nil, Date() < deadline {
            taken = try? other.openSession(alice, node: "other", session: "new")
            if taken == nil { usleep(50_000) }
        }
        guard let taken else { return XCTFail("no takeover within 5 s") }
        XCTAssertTrue(taken.tookOver)
        XCTAssertEqual(taken.messages.count, 1, "the lost session deleted nothing")
        fixture.volume.failing.withLockedValue { $0 = false }
        usleep(1_500_000)  // the old node's background release runs once the store answers again
        guard case .session(let holder) = try other.lockState(alice) else { return XCTFail("the new holder lost its lock") }
        XCTAssertEqual(holder.session, "new")
        try taken.release()
        XCTAssertEqual(try other.lockState(alice), .free)
    }
}
