import Foundation
import XCTest

@testable import SharedStore

final class RegistryTests: XCTestCase {
    func testNodeRecordRoundTripAndBounds() throws {
        let r = NodeRecord(node: "n1", address: "10.0.0.1:110", version: "0.5.0", pid: 42, started: Date(timeIntervalSince1970: 1_700_000_000.5),
                           updated: Date(timeIntervalSince1970: 1_700_000_100), beat: 9, draining: true,
                           sessions: [.init(mailbox: "a@example.test", session: "abc", peer: "192.0.2.7:5000", since: Date(timeIntervalSince1970: 1_700_000_050))])
        XCTAssertEqual(try NodeRecord(decoding: r.encoded()), r)
        XCTAssertThrowsError(try NodeRecord(decoding: Array("node=x\n".utf8)))
        var odd = r
        odd.address = "a b=c\nd"
        XCTAssertEqual(try NodeRecord(decoding: odd.encoded()).address, "abcd", "no field can break the line format")
    }

    func testPublishListRemoveAndControlFiles() throws {
        let f = try StoreFixture()
        XCTAssertEqual(try f.store.nodes(), [])
        let r = NodeRecord(node: "n1", address: "x", version: "v", pid: 1, started: Date(), updated: Date(), beat: 1, draining: false, sessions: [])
        try f.store.publishNode(r)
        try f.store.publishNode(NodeRecord(node: "n0", address: "y", version: "v", pid: 2, started: Date(), updated: Date(), beat: 1, draining: false, sessions: []))
        XCTAssertEqual(try f.store.nodes().map(\.node), ["n0", "n1"])
        XCTAssertEqual(try f.store.pendingControl(node: "n1").drain, false)
        try f.store.requestDrain(node: "n1")
        try f.store.requestDrain(node: "n1")  // idempotent
        try f.store.requestKick(node: "n1", session: "abc123")
        let control = try f.store.pendingControl(node: "n1")
        XCTAssertTrue(control.drain)
        XCTAssertEqual(control.kicks, ["abc123"])
        try f.store.clearKick(node: "n1", session: "abc123")
        try f.store.clearDrain(node: "n1")
        XCTAssertEqual(try f.store.pendingControl(node: "n1").kicks, [])
        XCTAssertFalse(try f.store.pendingControl(node: "n1").drain)
        try f.store.removeNode("n1")
        try f.store.removeNode("n1")
        XCTAssertEqual(try f.store.nodes().map(\.node), ["n0"])
        XCTAssertThrowsError(try f.store.requestDrain(node: "../x"))
        XCTAssertThrowsError(try f.store.requestKick(node: "n1", session: "a/b"))
        XCTAssertThrowsError(try f.store.requestDrain(node: "UPPER"))
    }
}
