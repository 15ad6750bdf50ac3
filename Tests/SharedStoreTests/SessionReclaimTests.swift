import Foundation
import XCTest

@testable import SharedStore

/// Issue 20: a node restarted under the same id after a crash takes its dead predecessor's mailbox locks back at
/// once; another node, a live predecessor, or one elsewhere still waits a whole lease (docs/lock-protocol.md, O2).
final class SessionReclaimTests: XCTestCase {
    let clock = ManualLeaseClock()

    /// A process of this boot and pid namespace that no longer runs (pid beyond any pid_max).
    var deadHere: ProcessIncarnation {
        let me = ProcessIncarnation.current!
        return ProcessIncarnation(bootID: me.bootID, pidNamespace: me.pidNamespace, pid: 4_194_305, startTicks: 1)
    }

    /// The mailbox held by a session of `node` in `incarnation`, as a process that then died leaves it.
    func held(by node: String, incarnation: ProcessIncarnation?) throws -> (StoreFixture, MailStore, MailboxAddress) {
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        let store = try MailStore.open(volume: f.volume, guid: f.guid, clock: clock)
        _ = try store.openSession(a, node: node, session: "before-the-crash")
        let record = OwnerRecord(kind: .session, node: node, session: "before-the-crash", since: Date(), beat: 3, incarnation: incarnation)
        try store.volume.overwriteExisting(try store.mailboxDir(a).appending(MailStore.heldName), record.encoded())
        return (f, store, a)
    }

    func testSessionRecordsNameTheirProcess() throws {
        let f = try StoreFixture()
        let session = try f.store.openSession(try f.mailbox("alice"), node: "n1", session: "s1")
        XCTAssertEqual(session.lock.owner.incarnation, ProcessIncarnation.current)
    }

    func testOwnDeadPredecessorsLockIsTakenBackAtOnce() throws {
        let (f, store, a) = try held(by: "n1", incarnation: deadHere)
        let session = try store.openSession(a, node: "n1", session: "after-the-restart")
        XCTAssertTrue(session.tookOver)
        XCTAssertEqual(session.lock.owner.session, "after-the-restart")
        _ = f
    }

    func testAnotherNodeWaitsAWholeLease() throws {
        let (f, store, a) = try held(by: "n1", incarnation: deadHere)
        XCTAssertThrowsError(try store.openSession(a, node: "n2", session: "other")) { XCTAssertNotNil($0 as? LockRefusal) }
        clock.advance(seconds: Double(store.lease.milliseconds) / 1000 + 0.001)
        XCTAssertTrue(try store.openSession(a, node: "n2", session: "other").tookOver)
        _ = f
    }

    func testLiveUnknownOrRemotePredecessorIsNotReclaimed() throws {
        let me = try XCTUnwrap(ProcessIncarnation.current)
        let init1 = try XCTUnwrap(ProcessIncarnation.startTicks(of: 1))
        let live = ProcessIncarnation(bootID: me.bootID, pidNamespace: me.pidNamespace, pid: 1, startTicks: init1)
        let elsewhere = ProcessIncarnation(bootID: "another-boot", pidNamespace: me.pidNamespace, pid: 4_194_305, startTicks: 1)
        for incarnation in [live, elsewhere, nil] {
            let (f, store, a) = try held(by: "n1", incarnation: incarnation)
            XCTAssertThrowsError(try store.openSession(a, node: "n1", session: "s"), "\(String(describing: incarnation))") {
                XCTAssertNotNil($0 as? LockRefusal)
            }
            _ = f
        }
    }
}
