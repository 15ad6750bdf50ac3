import Foundation
import XCTest

@testable import SharedStore

/// `poplar domain remove --purge` respects mailbox locks (issue 16 item 5): while a session holds any mailbox of the
/// domain nothing changes and the holder is named; once it is free, the domain and its mail go.
final class DomainPurgeTests: XCTestCase {
    func testPurgeIsRefusedWhileASessionHoldsAMailbox() throws {
        let f = try StoreFixture()
        let alice = try f.mailbox("alice"), bob = try f.mailbox("bob")
        _ = try f.store.deliver(to: alice, message: Array("Subject: a\r\n\r\nx\r\n".utf8), enforceQuota: false)
        let session = try f.store.openSession(bob, node: "n1", session: "s1")
        XCTAssertThrowsError(try f.store.removeDomain("example.test", purge: true)) { error in
            guard case .inUse(let holder)? = error as? LockRefusal else { return XCTFail("\(error)") }
            XCTAssertEqual(holder.node, "n1")
        }
        XCTAssertNotNil(try f.store.domainPolicies()["example.test"], "the domain stays accepted")
        let check = try f.store.openSession(alice, node: "n1", session: "s2")
        XCTAssertEqual(check.messages.count, 1, "alice's mail is there, her lock given back")
        try check.release()
        try session.release()
        try f.store.removeDomain("example.test", purge: true)
        XCTAssertNil(try f.store.domainPolicies()["example.test"])
        XCTAssertThrowsError(try f.store.volume.list(try StorePath(["example.test"])))
    }

    func testPurgeOfAnUnknownDomainSaysSo() throws {
        let f = try StoreFixture()
        XCTAssertThrowsError(try f.store.removeDomain("nowhere.test", purge: true)) { error in
            XCTAssertEqual((error as? StoreError)?.code, .notFound)
        }
    }
}
