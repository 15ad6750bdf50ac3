import Foundation
import XCTest

@testable import SharedStore

final class RegistryTests: XCTestCase {
    func testNodeRecordRoundTripAndBounds() throws {
        let r = NodeRecord(node: "n1", address: "10.0.0.1:110", version: "0.5.0", pid: 42, started: Date(timeIntervalSince1970: 1_700_000_000.5),
                           updated: Date(timeIntervalSince1970: 1_700_000_100), beat: 9, draining: true,
                           sessions: [.init(mailbox: "a@example.test", session: "abc", peer: "192.0.2.7:5000", since: Date(timeIntervalSince1970: 1_700_000_050))],
                           intervalMilliseconds: 5000)
        XCTAssertEqual(try NodeRecord(decoding: r.encoded()), r)
        XCTAssertEqual(try NodeRecord(decoding: Array("node=x\nstarted=1\nupdated=1\n".utf8)).intervalMilliseconds, 2000, "an older record: the default")
        XCTAssertThrowsError(try NodeRecord(decoding: Array("node=x\n".utf8)))
        var odd = r
        odd.address = "a b=c\nd"
        XCTAssertEqual(try NodeRecord(decoding: odd.encoded()).address, "abcd", "no field can break the line format")
    }

    func testForgetRemovesOnlyASilentNode() throws {
        let f = try StoreFixture()
        XCTAssertFalse(try f.store.forgetNode("ghost") { _ in XCTFail("nothing to watch") })
        var live = NodeRecord(node: "live", address: "x", version: "v", pid: 1, started: Date(), updated: Date(), beat: 1, draining: false,
                              sessions: [], intervalMilliseconds: 500)
        try f.store.publishNode(live)
        let store = f.store
        XCTAssertThrowsError(try f.store.forgetNode("live") { seconds in
            XCTAssertEqual(seconds, 2.0, accuracy: 0.01, "three of its intervals, and a little more")
            live.beat += 1
            live.updated = Date()
            try? store.publishNode(live)  // it is alive: it updates while we watch
        }) { XCTAssertEqual(($0 as? StoreError)?.code, .inUse) }
        XCTAssertEqual(try f.store.nodes().map(\.node), ["live"])

        let dead = NodeRecord(node: "dead", address: "y", version: "v", pid: 2, started: Date(), updated: Date(timeIntervalSinceNow: -60),
                              beat: 7, draining: false, sessions: [])
        try f.store.publishNode(dead)
        try f.store.requestDrain(node: "dead")
        XCTAssertTrue(try f.store.nodes().first { $0.node == "dead" }!.isSilent())
        XCTAssertFalse(try f.store.nodes().first { $0.node == "live" }!.isSilent())
        XCTAssertTrue(try f.store.forgetNode("dead") { _ in })
        XCTAssertEqual(try f.store.nodes().map(\.node), ["live"])
        XCTAssertEqual(try f.store.pendingControl(node: "dead").drain, false, "its control folder went with it")
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
