import Foundation
import Synchronization
import XCTest

@testable import SharedStore

/// A volume that injects faults into one kind of operation: either it performs the operation and then reports
/// a failure (an NFS reply lost; the retransmission answers ENOENT or EEXIST, RFC 1813 §4.5), or it fails
/// without performing it.
final class FaultInjectingVolume: Volume, Sendable {
    enum Operation: Sendable { case rename, link, unlink }
    enum Fault: Sendable { case performThenFail, failWithoutPerforming }
    struct Plan: Sendable {
        var operation: Operation
        var fault: Fault
        /// Which call of that operation (1 = the next one) fails.
        var call: Int
    }

    let inner: any Volume
    private let plan = Mutex<Plan?>(nil)
    private let counts = Mutex<[Operation: Int]>([:])

    init(_ inner: any Volume) { self.inner = inner }

    func inject(_ p: Plan?) {
        plan.withLock { $0 = p }
        counts.withLock { $0 = [:] }
    }

    private func run(_ op: Operation, _ lostReplyCode: StoreError.Code, _ body: () throws -> Void) throws {
        let n = counts.withLock { c -> Int in
            c[op, default: 0] += 1
            return c[op]!
        }
        guard let p = plan.withLock({ $0 }), p.operation == op, p.call == n else { return try body() }
        switch p.fault {
        case .performThenFail:
            try body()
            throw StoreError(code: lostReplyCode, message: "injected: reply lost after the operation was done")
        case .failWithoutPerforming:
            throw StoreError(code: .unavailable, message: "injected: server did not answer", errno: ETIMEDOUT)
        }
    }

    func stat(_ path: StorePath) throws -> FileAttributes { try inner.stat(path) }
    func list(_ directory: StorePath) throws -> [DirectoryEntry] { try inner.list(directory) }
    func mkdir(_ path: StorePath) throws { try inner.mkdir(path) }
    func rmdir(_ path: StorePath) throws { try inner.rmdir(path) }
    func openForReading(_ path: StorePath) throws -> any VolumeReadHandle { try inner.openForReading(path) }
    func createFile(_ path: StorePath, exclusive: Bool) throws -> any VolumeWriteHandle { try inner.createFile(path, exclusive: exclusive) }
    func openExisting(_ path: StorePath) throws -> any VolumeWriteHandle { try inner.openExisting(path) }
    func rename(_ from: StorePath, to: StorePath) throws { try run(.rename, .notFound) { try inner.rename(from, to: to) } }
    func link(_ from: StorePath, to: StorePath) throws { try run(.link, .alreadyExists) { try inner.link(from, to: to) } }
    func unlink(_ path: StorePath) throws { try run(.unlink, .notFound) { try inner.unlink(path) } }
    func fsyncDirectory(_ path: StorePath) throws { try inner.fsyncDirectory(path) }
}

final class LostReplyTests: XCTestCase {
    /// Fixtures live until the test ends (their deinit removes the mail root).
    private var fixtures: [StoreFixture] = []

    func make() throws -> (StoreFixture, FaultInjectingVolume, MailStore, MailboxAddress) {
        let f = try StoreFixture()
        fixtures.append(f)
        let a = try f.mailbox("alice")
        let faulty = FaultInjectingVolume(f.volume)
        let store = try MailStore.open(volume: faulty, guid: f.guid)
        return (f, faulty, store, a)
    }

    // Lock take: the claim (rename 1) and the publication (rename 2), each with its reply lost.
    func testTakeWithLostRepliesStillHoldsExactlyOnce() throws {
        for call in 1...2 {
            let (_, faulty, store, a) = try make()
            faulty.inject(.init(operation: .rename, fault: .performThenFail, call: call))
            let s = try store.openSession(a, node: "n1", session: "s\(call)")
            guard case .session(let owner) = try store.lockState(a) else { return XCTFail("rename \(call): not held") }
            XCTAssertEqual(owner.session, "s\(call)")
            faulty.inject(nil)
            try s.release()
            XCTAssertEqual(try store.lockState(a), .free)
        }
    }

    // Lock take: a rename that did not happen leaves the mailbox free (never half-taken).
    func testTakeThatFailsLeavesTheMailboxFree() throws {
        for call in 1...2 {
            let (_, faulty, store, a) = try make()
            faulty.inject(.init(operation: .rename, fault: .failWithoutPerforming, call: call))
            XCTAssertThrowsError(try store.openSession(a, node: "n1", session: "s"), "rename \(call)")
            faulty.inject(nil)
            XCTAssertEqual(try store.lockState(a), .free, "rename \(call)")
        }
    }

    // Release: both renames with lost replies; the mailbox ends free.
    func testReleaseWithLostReplies() throws {
        for call in 1...2 {
            let (_, faulty, store, a) = try make()
            let s = try store.openSession(a, node: "n1", session: "s")
            faulty.inject(.init(operation: .rename, fault: .performThenFail, call: call))
            try s.release()
            faulty.inject(nil)
            XCTAssertEqual(try store.lockState(a), .free, "rename \(call)")
        }
    }

    // R0: a rename that did not happen fails the release; the next try finishes it (from the private name if R1
    // happened, else through R1-R3) and the mailbox ends free, never half-released.
    func testQuickReleaseThatFailsIsFinishedByTheNextTry() throws {
        for call in 1...2 {
            let (f, faulty, store, a) = try make()
            let s = try store.openSession(a, node: "n1", session: "s")
            faulty.inject(.init(operation: .rename, fault: .failWithoutPerforming, call: call))
            XCTAssertThrowsError(try s.release(), "rename \(call)")
            XCTAssertNotEqual(try store.lockState(a), .free, "rename \(call)")
            faulty.inject(nil)
            try s.release()
            XCTAssertEqual(try store.lockState(a), .free, "rename \(call)")
            XCTAssertEqual(f.files("example.test/P3_alice.mbx").filter { $0.hasPrefix("kcol") || $0 == "lock" }, ["lock"])
            try s.release()
        }
    }

    // R0 that failed after R1, and the private name was taken over meanwhile: the retry does not touch the new holder.
    func testQuickReleaseRetryNeverFreesTheNextHolder() throws {
        let (f, faulty, _, a) = try make()
        let clock = ManualLeaseClock()
        let store = try MailStore.open(volume: faulty, guid: f.guid, clock: clock)
        let other = try MailStore.open(volume: f.volume, guid: f.guid, clock: clock)
        let s = try store.openSession(a, node: "n1", session: "s")
        faulty.inject(.init(operation: .rename, fault: .failWithoutPerforming, call: 2))
        XCTAssertThrowsError(try s.release())
        faulty.inject(nil)
        XCTAssertThrowsError(try other.openSession(a, node: "n2", session: "t"))
        clock.advance(seconds: Double(store.lease.milliseconds) / 1000 + 0.1)
        let next = try other.openSession(a, node: "n2", session: "t")
        XCTAssertTrue(next.tookOver)
        try s.release()
        guard case .session(let holder) = try store.lockState(a) else { return XCTFail("the next holder lost its lock") }
        XCTAssertEqual(holder.session, "t")
        try next.release()
        XCTAssertEqual(try store.lockState(a), .free)
    }

    // Delivery: a link whose reply was lost is one message, not two and not none.
    func testDeliveryLinkLostReply() throws {
        let (f, faulty, store, a) = try make()
        faulty.inject(.init(operation: .link, fault: .performThenFail, call: 1))
        _ = try store.deliver(to: a, message: Array("one\n".utf8), enforceQuota: false)
        faulty.inject(.init(operation: .link, fault: .failWithoutPerforming, call: 1))
        XCTAssertThrowsError(try store.deliver(to: a, message: Array("two\n".utf8), enforceQuota: false))
        faulty.inject(nil)
        XCTAssertEqual(try store.mailboxInfo(a).messageCount, 1)
        XCTAssertEqual(f.files("example.test/P3_alice.mbx/tmp"), [], "nothing half-delivered")
    }

    // UPDATE: a delete whose reply was lost counts as done; one that did not happen is an error.
    func testCommitUnlinkLostReply() throws {
        let (_, faulty, store, a) = try make()
        let m1 = try store.deliver(to: a, message: Array("one\n".utf8), enforceQuota: false)
        let m2 = try store.deliver(to: a, message: Array("two\n".utf8), enforceQuota: false)
        var s = try store.openSession(a, node: "n1", session: "s1")
        faulty.inject(.init(operation: .unlink, fault: .performThenFail, call: 1))
        try s.commit(deleting: [m1])
        try s.release()
        XCTAssertEqual(try store.mailboxInfo(a).messageCount, 1)
        s = try store.openSession(a, node: "n1", session: "s2")
        faulty.inject(.init(operation: .unlink, fault: .failWithoutPerforming, call: 1))
        XCTAssertThrowsError(try s.commit(deleting: [m2]))
        faulty.inject(nil)
        try s.release()
        XCTAssertEqual(try store.mailboxInfo(a).messageCount, 1)
    }

    // The metabase's atomic replacement with its rename reply lost.
    func testMetabaseRenameLostReply() throws {
        let (_, faulty, store, _) = try make()
        try store.addDomain("first.test")  // the metabase lease's directory exists from here on
        // Renames of an add: the lease's T1 and T3, then the metabase's replacement (then the lease's release).
        faulty.inject(.init(operation: .rename, fault: .performThenFail, call: 3))
        try store.addDomain("new.test")
        faulty.inject(nil)
        XCTAssertTrue(try store.isDomainAccepted("new.test"))
    }
}
