import Foundation
import XCTest

@testable import SharedStore

final class LockTests: XCTestCase {
    func testTakeRefuseRelease() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        let s1 = try f.store.openSession(a, node: "n1", session: "s1")
        XCTAssertEqual(f.files("example.test/P3_alice.mbx").filter { $0.hasPrefix("kcol") || $0 == "lock" }, ["kcol"])
        guard case .session(let owner) = try f.store.lockState(a) else { return XCTFail("not held") }
        XCTAssertEqual(owner.node, "n1")
        XCTAssertEqual(owner.session, "s1")
        XCTAssertThrowsError(try f.store.openSession(a, node: "n2", session: "s2")) { e in
            guard case .inUse(let holder) = e as? LockRefusal else { return XCTFail("\(e)") }
            XCTAssertEqual(holder.node, "n1")
        }
        try s1.release()
        try s1.release()
        XCTAssertEqual(try f.store.lockState(a), .free)
        XCTAssertEqual(f.files("example.test/P3_alice.mbx").filter { $0.hasPrefix("kcol") || $0 == "lock" }, ["lock"])
        // R0 leaves the last holder's record in the free lock file; the next taker's T2 rewrites it.
        let lockContent = try Data(contentsOf: URL(fileURLWithPath: f.path + "/example.test/P3_alice.mbx/lock"))
        XCTAssertTrue(lockContent.isEmpty || (try? OwnerRecord(decoding: Array(lockContent)))?.session == "s1")
        let s3 = try f.store.openSession(a, node: "n3", session: "s3")
        guard case .session(let next) = try f.store.lockState(a) else { return XCTFail("not held") }
        XCTAssertEqual(next.session, "s3")
        try s3.release()
    }

    func testOwnerRecordRoundTrip() throws {
        let r = OwnerRecord(kind: .session, node: "n1", session: "abc", since: Date(timeIntervalSince1970: 1_700_000_000.1234), beat: 7)
        XCTAssertEqual(try OwnerRecord(decoding: r.encoded()), r)
        XCTAssertThrowsError(try OwnerRecord(decoding: Array("junk".utf8)))
        XCTAssertThrowsError(try OwnerRecord(decoding: Array(repeating: 65, count: 5000)))
    }

    func testAdminLockIsDistinct() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        try f.store.adminLock(a, by: "admin@host")
        try f.store.adminLock(a, by: "admin@host")  // idempotent
        guard case .admin = try f.store.lockState(a) else { return XCTFail() }
        XCTAssertThrowsError(try f.store.openSession(a, node: "n1", session: "s1")) { e in
            guard case .adminLocked = e as? LockRefusal else { return XCTFail("\(e)") }
        }
        try f.store.adminUnlock(a)
        let s = try f.store.openSession(a, node: "n1", session: "s1")
        XCTAssertThrowsError(try f.store.adminUnlock(a), "never breaks a session's lock") { e in
            guard case .inUse = e as? LockRefusal else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try f.store.adminLock(a, by: "admin@host"))
        XCTAssertThrowsError(try f.store.removeMailbox(a))
        XCTAssertThrowsError(try f.store.purge(a))
        try s.release()
    }

    func testCommitDeletesOnlyMarkedAndSnapshotIsFixed() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        let m = try (0..<3).map { try f.store.deliver(to: a, message: Array("m\($0)\n".utf8), enforceQuota: false) }
        let s = try f.store.openSession(a, node: "n1", session: "s1")
        XCTAssertEqual(s.messages, m)
        _ = try f.store.deliver(to: a, message: Array("during the session\n".utf8), enforceQuota: false)
        XCTAssertEqual(s.messages.count, 3, "a message delivered during a session is not in it")
        try s.commit(deleting: [m[0], m[2]])
        try s.release()
        let next = try f.store.openSession(a, node: "n1", session: "s2")
        XCTAssertEqual(next.messages.count, 2)
        XCTAssertEqual(next.messages[0], m[1])
        try next.release()
    }

    // Fencing: a session whose lock is no longer its own deletes nothing.
    func testCommitAfterLosingTheLockDeletesNothing() throws {
        let f = try StoreFixture()
        let clock = ManualLeaseClock()
        let store = try MailStore.open(volume: f.volume, guid: f.guid, clock: clock)
        let a = try f.mailbox("alice")
        let m = try store.deliver(to: a, message: Array("x\n".utf8), enforceQuota: false)
        let old = try store.openSession(a, node: "n1", session: "old")
        // Simulate a takeover: the lock is given up behind the old session's back and taken by another.
        try f.volume.rename(try StorePath(["example.test", "P3_alice.mbx", "kcol"]), to: try StorePath(["example.test", "P3_alice.mbx", "lock"]))
        let new = try store.openSession(a, node: "n2", session: "new")
        XCTAssertThrowsError(try old.commit(deleting: [m])) { XCTAssertEqual(($0 as? StoreError)?.code, .inUse) }
        XCTAssertEqual(try store.mailboxInfo(a).messageCount, 1)
        // A real takeover comes only after the old holder's window ran out: its release then checks the record (R2).
        clock.advance(seconds: Double(store.lease.milliseconds) / 1000)
        try old.release()
        guard case .session(let holder) = try f.store.lockState(a) else { return XCTFail("the new holder lost its lock") }
        XCTAssertEqual(holder.session, "new", "releasing an old session never frees another's lock")
        try new.release()
        XCTAssertEqual(try f.store.lockState(a), .free)
    }

    func testRaceForOneMailboxHasOneWinner() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        for round in 0..<50 {
            let winners = Collector<MailboxSession>()
            let store = f.store
            DispatchQueue.concurrentPerform(iterations: 4) { i in
                if let s = try? store.openSession(a, node: "n\(i)", session: "r\(round)") { winners.add(s) }
            }
            XCTAssertEqual(winners.all.count, 1, "round \(round)")
            for s in winners.all { try s.release() }
            XCTAssertEqual(try f.store.lockState(a), .free)
        }
    }

    func testClaimingStateAndMissingLock() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        let dir = try StorePath(["example.test", "P3_alice.mbx"])
        try f.volume.rename(try dir.appending("lock"), to: try dir.appending("kcol.n9.abc"))
        guard case .claiming = try f.store.lockState(a) else { return XCTFail() }
        XCTAssertThrowsError(try f.store.openSession(a, node: "n1", session: "s")) { e in
            guard case .inUse = e as? LockRefusal else { return XCTFail("\(e)") }
        }
        try f.volume.unlink(try dir.appending("kcol.n9.abc"))
        XCTAssertEqual(try f.store.lockState(a), .missing)
        XCTAssertThrowsError(try f.store.openSession(a, node: "n1", session: "s")) { e in
            XCTAssertEqual((e as? StoreError)?.code, .corrupt)
        }
    }
}
