import Foundation
import XCTest

@testable import SharedStore

/// A cluster lease held by the holder's own process that died on this machine is taken back at once by its
/// successor under the same name; a live holder, another name, or a holder elsewhere still waits a whole lease.
final class LeaseReclaimTests: XCTestCase {
    private var fixtures: [StoreFixture] = []
    let clock = ManualLeaseClock()

    override func tearDown() {
        fixtures.removeAll()
    }

    func store() throws -> MailStore {
        let f = try StoreFixture()
        fixtures.append(f)
        return try MailStore.open(volume: f.volume, guid: f.guid, clock: clock)
    }

    /// A process of this boot and pid namespace that no longer runs (pid beyond any pid_max).
    var deadHere: ProcessIncarnation {
        let me = ProcessIncarnation.current!
        return ProcessIncarnation(bootID: me.bootID, pidNamespace: me.pidNamespace, pid: 4_194_305, startTicks: 1)
    }

    /// Leaves the lease held by `holder` under `incarnation`, as a process that then died would.
    func holdLease(_ store: MailStore, holder: String, incarnation: ProcessIncarnation?) throws {
        _ = try store.takeLease("coordinator", holder: "seed")
        let dir = try store.leaseDirectory("coordinator")
        let record = OwnerRecord(kind: .session, node: holder, session: "coordinator-1", since: Date(), incarnation: incarnation)
        try store.volume.overwriteExisting(try dir.appending(MailStore.heldName), record.encoded())
    }

    func testIncarnationOfThisProcessRoundTripsAndIsAlive() throws {
        let me = try XCTUnwrap(ProcessIncarnation.current)
        XCTAssertEqual(ProcessIncarnation(parsing: me.description), me)
        XCTAssertFalse(me.isDeadHere)
        let record = OwnerRecord(kind: .session, node: "c1", session: "x", since: Date(), incarnation: me)
        XCTAssertEqual(try OwnerRecord(decoding: record.encoded()).incarnation, me)
    }

    func testIncarnationJudgement() throws {
        let me = try XCTUnwrap(ProcessIncarnation.current)
        XCTAssertTrue(deadHere.isDeadHere)
        let init1 = try XCTUnwrap(ProcessIncarnation.startTicks(of: 1))
        XCTAssertFalse(ProcessIncarnation(bootID: me.bootID, pidNamespace: me.pidNamespace, pid: 1, startTicks: init1).isDeadHere,
                       "a living process")
        XCTAssertTrue(ProcessIncarnation(bootID: me.bootID, pidNamespace: me.pidNamespace, pid: 1, startTicks: init1 + 1).isDeadHere,
                      "the pid was reused by another process")
        XCTAssertFalse(ProcessIncarnation(bootID: "another-boot", pidNamespace: me.pidNamespace, pid: 4_194_305, startTicks: 1).isDeadHere,
                       "another machine or boot: never judged here")
        XCTAssertFalse(ProcessIncarnation(bootID: me.bootID, pidNamespace: "1", pid: 4_194_305, startTicks: 1).isDeadHere,
                       "another pid namespace (a container): never judged here")
    }

    func testCorruptIncarnationsAreIgnored() {
        for text in ["", "a/b/c", "a/b/0/1", "a/b/-1/1", "a/b/1/x", "a b/c/1/1", String(repeating: "a", count: 65) + "/b/1/1", "a/b/1/1/1"] {
            XCTAssertNil(ProcessIncarnation(parsing: text), text)
        }
    }

    func testOwnDeadPredecessorsLeaseIsTakenBackAtOnce() throws {
        let s = try store()
        try holdLease(s, holder: "c1", incarnation: deadHere)
        let held = try s.takeLease("coordinator", holder: "c1")
        XCTAssertEqual(held.owner.node, "c1")
        XCTAssertEqual(held.owner.incarnation, ProcessIncarnation.current)
    }

    func testAnotherHoldersLeaseStillWaitsAWholeLease() throws {
        let s = try store()
        try holdLease(s, holder: "c1", incarnation: deadHere)
        XCTAssertThrowsError(try s.takeLease("coordinator", holder: "c2")) { XCTAssertNotNil($0 as? LockRefusal) }
        clock.advance(seconds: Double(s.lease.milliseconds) / 1000 + 0.001)
        XCTAssertEqual(try s.takeLease("coordinator", holder: "c2").owner.node, "c2")
    }

    func testLiveOrUnknownPredecessorIsNotReclaimed() throws {
        let me = try XCTUnwrap(ProcessIncarnation.current)
        let init1 = try XCTUnwrap(ProcessIncarnation.startTicks(of: 1))
        let live = ProcessIncarnation(bootID: me.bootID, pidNamespace: me.pidNamespace, pid: 1, startTicks: init1)
        let elsewhere = ProcessIncarnation(bootID: "another-boot", pidNamespace: me.pidNamespace, pid: 4_194_305, startTicks: 1)
        for incarnation in [live, elsewhere, nil] {
            let s = try store()
            try holdLease(s, holder: "c1", incarnation: incarnation)
            XCTAssertThrowsError(try s.takeLease("coordinator", holder: "c1"), "\(String(describing: incarnation))") {
                XCTAssertNotNil($0 as? LockRefusal)
            }
        }
    }
}
