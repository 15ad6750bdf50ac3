import Foundation
import Synchronization
import XCTest

@testable import SharedStore

/// A volume that runs a hook just before a chosen rename: "something happened on another node right then".
final class HookVolume: Volume, Sendable {
    let inner: any Volume
    private let hook = Mutex<(@Sendable (StorePath, StorePath) -> Void)?>(nil)
    init(_ inner: any Volume) { self.inner = inner }
    func beforeRename(_ h: (@Sendable (StorePath, StorePath) -> Void)?) { hook.withLock { $0 = h } }

    func stat(_ path: StorePath) throws -> FileAttributes { try inner.stat(path) }
    func list(_ directory: StorePath) throws -> [DirectoryEntry] { try inner.list(directory) }
    func mkdir(_ path: StorePath) throws { try inner.mkdir(path) }
    func rmdir(_ path: StorePath) throws { try inner.rmdir(path) }
    func openForReading(_ path: StorePath) throws -> any VolumeReadHandle { try inner.openForReading(path) }
    func createFile(_ path: StorePath, exclusive: Bool) throws -> any VolumeWriteHandle { try inner.createFile(path, exclusive: exclusive) }
    func openExisting(_ path: StorePath) throws -> any VolumeWriteHandle { try inner.openExisting(path) }
    func rename(_ from: StorePath, to: StorePath) throws {
        if let h = hook.withLock({ $0 }) { h(from, to) }
        try inner.rename(from, to: to)
    }
    func link(_ from: StorePath, to: StorePath) throws { try inner.link(from, to: to) }
    func unlink(_ path: StorePath) throws { try inner.unlink(path) }
    func fsyncDirectory(_ path: StorePath) throws { try inner.fsyncDirectory(path) }
}

/// The lease, takeover, fencing and delete intent of docs/lock-protocol.md, with an injected clock: no sleeps.
final class LockLeaseTests: XCTestCase {
    private var fixtures: [StoreFixture] = []
    let clock = ManualLeaseClock()
    var lease: Double { 30 }

    /// Two "nodes" (two stores, each with its own observer) over one mail root, on the manual clock.
    func make(_ wrap: (any Volume) -> any Volume = { $0 }) throws -> (f: StoreFixture, a: MailStore, b: MailStore, box: MailboxAddress) {
        let f = try StoreFixture()
        fixtures.append(f)
        let box = try f.mailbox("alice")
        let v = wrap(f.volume)
        return (f, try MailStore.open(volume: v, guid: f.guid, clock: clock), try MailStore.open(volume: v, guid: f.guid, clock: clock), box)
    }

    func lockNames(_ f: StoreFixture) -> [String] {
        f.files("example.test/P3_alice.mbx").filter { $0 == "lock" || $0.hasPrefix("kcol") }
    }

    func assertInUse(_ body: @autoclosure () throws -> MailboxSession, holder: String? = nil, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { e in
            guard case .inUse(let r) = e as? LockRefusal else { return XCTFail("\(e)", file: file, line: line) }
            if let holder { XCTAssertEqual(r.session, holder, file: file, line: line) }
        }
    }

    func testDefaultLeaseIsThirtySecondsAndKeptInTheClusterFile() throws {
        let (f, a, _, _) = try make()
        XCTAssertEqual(a.lease.milliseconds, 30_000)
        XCTAssertEqual(a.lease.windowNanoseconds, 15_000_000_000)
        let text = try String(contentsOfFile: f.path + "/.poplar/cluster", encoding: .utf8)
        XCTAssertTrue(text.contains("lock-lease-ms=30000"))
        XCTAssertEqual(LockLease(milliseconds: 1).milliseconds, LockLease.minimumMilliseconds)
    }

    // A damaged or hand-edited cluster file with a huge lease must not overflow the nanosecond deadlines.
    func testHugeLeaseInTheClusterFileIsBounded() throws {
        let guid = try ClusterGUID(text: String(repeating: "ab", count: 32))
        let text = "format=1\nid=x\nguid-check=\(guid.checkValue)\nlock-lease-ms=9223372036854775807\n"
        let info = try MailStore.decodeClusterFile(Array(text.utf8), guid: guid)
        XCTAssertEqual(info.lockLease.milliseconds, LockLease.maximumMilliseconds)
        XCTAssertEqual(info.lockLease.nanoseconds, 3_600_000_000_000)
    }

    // Stale = the same name and record seen a whole lease apart; not a moment earlier.
    func testDeadHolderIsTakenOverAfterOneLeaseNotBefore() throws {
        let (f, a, b, box) = try make()
        let m = try a.deliver(to: box, message: Array("x\n".utf8), enforceQuota: false)
        let dead = try a.openSession(box, node: "n1", session: "dead")
        assertInUse(try b.openSession(box, node: "n2", session: "s2"), holder: "dead")
        clock.advance(seconds: lease - 0.001)
        assertInUse(try b.openSession(box, node: "n2", session: "s2"), holder: "dead")
        clock.advance(seconds: 0.002)
        let s2 = try b.openSession(box, node: "n2", session: "s2")
        XCTAssertTrue(s2.tookOver)
        XCTAssertEqual(s2.messages, [m])
        XCTAssertEqual(lockNames(f), ["kcol"])
        guard case .session(let r) = try a.lockState(box) else { return XCTFail() }
        XCTAssertEqual(r.session, "s2")
        // The old holder: its heartbeat says lost, it deletes nothing, its release leaves the new lock alone.
        if case .lost = dead.heartbeat() {} else { XCTFail("the old holder must learn it lost the lock") }
        XCTAssertThrowsError(try dead.commit(deleting: [m]))
        try dead.release()
        XCTAssertEqual(try a.mailboxInfo(box).messageCount, 1)
        guard case .session(let still) = try a.lockState(box) else { return XCTFail() }
        XCTAssertEqual(still.session, "s2")
        try s2.release()
        XCTAssertEqual(lockNames(f), ["lock"])
    }

    // A live holder's heartbeats change the record: nobody ever sees it stale.
    func testHeartbeatingHolderIsNeverTakenOver() throws {
        let (_, a, b, box) = try make()
        let live = try a.openSession(box, node: "n1", session: "live")
        for _ in 0..<10 {
            assertInUse(try b.openSession(box, node: "n2", session: "s2"), holder: "live")
            clock.advance(seconds: lease / 3)
            XCTAssertEqual(live.heartbeat(), .confirmed)
        }
        XCTAssertEqual(live.owner.beat, 10)
        XCTAssertNil(live.lostReason)
        try live.release()
    }

    // The window: W = L/2 after the last confirmed heartbeat; past it nothing guarded is issued.
    func testHolderStopsAtTheEndOfItsWindow() throws {
        let (f, a, _, box) = try make()
        let m = try a.deliver(to: box, message: Array("x\n".utf8), enforceQuota: false)
        let s = try a.openSession(box, node: "n1", session: "s")
        clock.advance(seconds: lease / 2 - 0.01)
        XCTAssertNil(s.lostReason)
        clock.advance(seconds: 0.02)
        XCTAssertNotNil(s.lostReason)
        XCTAssertThrowsError(try s.commit(deleting: [m]))
        if case .lost = s.heartbeat() {} else { XCTFail("past its window a holder does not heartbeat") }
        XCTAssertEqual(try a.mailboxInfo(box).messageCount, 1)
        try s.release()
        XCTAssertEqual(lockNames(f), ["lock"], "a late holder still gives back a lock nobody took")
    }

    // H3: a heartbeat that cannot be read back does not extend the window.
    func testUnconfirmedHeartbeatDoesNotExtendTheWindow() throws {
        let (f, a, _, box) = try make()
        let s = try a.openSession(box, node: "n1", session: "s")
        // Someone moved kcol away for a moment (a release or steal being put back): the write finds no kcol.
        let dir = try StorePath(["example.test", "P3_alice.mbx"])
        try f.volume.rename(try dir.appending("kcol"), to: try dir.appending("kcol.other.0000000000000001"))
        clock.advance(seconds: 10)
        if case .unconfirmed = s.heartbeat() {} else { XCTFail("no kcol: unconfirmed") }
        XCTAssertEqual(lockNames(f), ["kcol.other.0000000000000001"], "a heartbeat never creates a lock name")
        try f.volume.rename(try dir.appending("kcol.other.0000000000000001"), to: try dir.appending("kcol"))
        clock.advance(seconds: 4)
        XCTAssertEqual(s.heartbeat(), .confirmed)
        clock.advance(seconds: 14)
        XCTAssertNil(s.lostReason, "the window runs from the confirmed heartbeat")
        try s.release()
    }

    // S3: a heartbeat that lands between the observer's decision and its steal makes it put the lock back.
    func testStealPutsBackALockWhoseRecordChangedUnderIt() throws {
        var hookVolume: HookVolume!
        let (f, a, b, box) = try make { v in
            hookVolume = HookVolume(v)
            return hookVolume
        }
        let live = try a.openSession(box, node: "n1", session: "live")
        assertInUse(try b.openSession(box, node: "n2", session: "s2"))
        clock.advance(seconds: lease + 1)
        let heartbeatLanded = Mutex(false)
        let volume = f.volume
        hookVolume.beforeRename { from, _ in
            // Just before the stealer's S2 rename of kcol, the holder (paused until now) heartbeats.
            guard from.name == "kcol", !heartbeatLanded.withLock({ $0 }) else { return }
            heartbeatLanded.withLock { $0 = true }
            var next = live.owner
            next.beat += 1
            try? volume.overwriteExisting(try! StorePath(["example.test", "P3_alice.mbx", "kcol"]), next.encoded())
        }
        assertInUse(try b.openSession(box, node: "n2", session: "s2"), holder: "live")
        hookVolume.beforeRename(nil)
        XCTAssertTrue(heartbeatLanded.withLock { $0 })
        XCTAssertEqual(lockNames(f), ["kcol"], "put back under its name")
        guard case .session(let r) = try a.lockState(box) else { return XCTFail() }
        XCTAssertEqual(r.session, "live")
        XCTAssertEqual(f.files("example.test/P3_alice.mbx/tmp"), [], "the stealer's fresh file is removed")
        try live.release()
    }

    // S4: a paused holder's late write into the file it had open lands in the replaced file: nobody reads it.
    func testLateWriteOfAnOldHolderChangesNothing() throws {
        let (f, a, b, box) = try make()
        let old = try a.openSession(box, node: "n1", session: "old")
        let kcol = try StorePath(["example.test", "P3_alice.mbx", "kcol"])
        let openedBeforePause = try f.volume.openExisting(kcol)
        assertInUse(try b.openSession(box, node: "n2", session: "new"))
        clock.advance(seconds: lease + 1)
        let new = try b.openSession(box, node: "n2", session: "new")
        var late = old.owner
        late.beat = 99
        // On a local disk the write lands in the orphaned file; over NFS the server answers that the file is gone.
        // Either way nobody reads it.
        try? openedBeforePause.write(late.encoded())
        try? openedBeforePause.close()
        guard case .session(let r) = try a.lockState(box) else { return XCTFail() }
        XCTAssertEqual(r.session, "new")
        XCTAssertEqual(new.heartbeat(), .confirmed)
        try new.release()
    }

    // R0: inside its window, with no heartbeat written, a holder releases with two renames (kcol to its private name,
    // that to lock): no record read, no fresh file.
    func testQuickReleaseInsideTheWindowIsTwoRenames() throws {
        let renames = Collector<String>()
        let (f, a, b, box) = try make { inner in
            let v = HookVolume(inner)
            v.beforeRename { from, to in renames.add("\(from.name!) -> \(to.name!)") }
            return v
        }
        let s = try a.openSession(box, node: "n1", session: "s1")
        renames.removeAll()
        clock.advance(seconds: lease / 2 - 0.01)
        try s.release()
        XCTAssertEqual(renames.all.count, 2, "\(renames.all)")
        XCTAssertTrue(renames.all[0].hasPrefix("kcol -> kcol.n1."))
        XCTAssertTrue(renames.all[1].hasSuffix("-> lock"))
        XCTAssertEqual(lockNames(f), ["lock"])
        XCTAssertEqual(f.files("example.test/P3_alice.mbx/tmp"), [])
        try b.openSession(box, node: "n2", session: "s2").release()
    }

    // A holder that wrote a heartbeat, or whose window ran out, releases through R1-R3: a fresh file replaces its own,
    // so a write of it still in flight lands nowhere.
    func testReleaseAfterAHeartbeatOrPastTheWindowReplacesTheFile() throws {
        let (f, a, _, box) = try make()
        let kcol = try StorePath(["example.test", "P3_alice.mbx", "kcol"])
        for heartbeat in [true, false] {
            let s = try a.openSession(box, node: "n1", session: "s1")
            let before = try f.volume.stat(kcol).fileID
            if heartbeat {
                XCTAssertEqual(s.heartbeat(), .confirmed)
            } else {
                clock.advance(seconds: lease / 2 + 0.01)
            }
            try s.release()
            XCTAssertEqual(lockNames(f), ["lock"])
            XCTAssertNotEqual(try f.volume.stat(try StorePath(["example.test", "P3_alice.mbx", "lock"])).fileID, before, "heartbeat \(heartbeat)")
            XCTAssertEqual(f.files("example.test/P3_alice.mbx/tmp"), [])
        }
    }

    // A taker that died between T1 and T3 leaves only a private name; it is stale like kcol.
    func testStalePrivateNameIsTakenOver() throws {
        let (f, a, _, box) = try make()
        let dir = try StorePath(["example.test", "P3_alice.mbx"])
        try f.volume.rename(try dir.appending("lock"), to: try dir.appending("kcol.crashed.00000000000000aa"))
        assertInUse(try a.openSession(box, node: "n1", session: "s"))
        clock.advance(seconds: lease)
        let s = try a.openSession(box, node: "n1", session: "s")
        XCTAssertTrue(s.tookOver)
        XCTAssertEqual(lockNames(f), ["kcol"])
        try s.release()
        XCTAssertEqual(lockNames(f), ["lock"])
    }

    func testAdminLockIsNeverStale() throws {
        let (_, a, b, box) = try make()
        try a.adminLock(box, by: "admin")
        for _ in 0..<3 {
            XCTAssertThrowsError(try b.openSession(box, node: "n2", session: "s")) { e in
                guard case .adminLocked = e as? LockRefusal else { return XCTFail("\(e)") }
            }
            clock.advance(seconds: lease * 2)
        }
        try a.adminUnlock(box)
    }

    // Crash-safe UPDATE: the intent stays when the holder dies after U2; the next session, on any node, finishes it
    // before it lists, and touches no other message.
    func testIntentLeftByACrashedHolderIsFinishedOnceBeforeListing() throws {
        let (f, a, b, box) = try make()
        let m = try (0..<4).map { try a.deliver(to: box, message: Array("m\($0)\n".utf8), enforceQuota: false) }
        let dying = try a.openSession(box, node: "n1", session: "dying")
        // U2 done, then the first unlink, then kill -9.
        try a.writeIntent(dir: dying.dir, names: [m[0].fileName, m[2].fileName])
        try f.volume.unlink(try dying.dir.appending(m[0].fileName))
        XCTAssertEqual(f.files("example.test/P3_alice.mbx").filter { $0 == "intent" }, ["intent"])
        assertInUse(try b.openSession(box, node: "n2", session: "next"))
        clock.advance(seconds: lease)
        let next = try b.openSession(box, node: "n2", session: "next")
        XCTAssertEqual(next.finishedIntent, 1)
        XCTAssertEqual(next.messages, [m[1], m[3]], "the intent's messages are gone before the snapshot; the others stay")
        XCTAssertEqual(f.files("example.test/P3_alice.mbx").filter { $0 == "intent" }, [])
        try next.release()
        let again = try a.openSession(box, node: "n1", session: "again")
        XCTAssertEqual(again.finishedIntent, 0)
        XCTAssertEqual(again.messages, [m[1], m[3]])
        try again.release()
    }

    func testCommitWritesAndRemovesTheIntent() throws {
        let (f, a, _, box) = try make()
        let m = try (0..<3).map { try a.deliver(to: box, message: Array("m\($0)\n".utf8), enforceQuota: false) }
        let s = try a.openSession(box, node: "n1", session: "s")
        try s.commit(deleting: [m[1]])
        try s.release()
        XCTAssertEqual(f.files("example.test/P3_alice.mbx").filter { $0 == "intent" || $0.hasPrefix("P3_") }, [m[0].fileName, m[2].fileName])
        XCTAssertEqual(f.files("example.test/P3_alice.mbx/tmp"), [])
    }

    func testIntentNamesThatAreNotMessagesAreIgnored() throws {
        let (f, a, _, box) = try make()
        let m = try a.deliver(to: box, message: Array("m\n".utf8), enforceQuota: false)
        let dir = try StorePath(["example.test", "P3_alice.mbx"])
        try f.volume.writeFile(try dir.appending("intent"), Array("passwd\n../../x\nquota\n\(m.fileName)\n".utf8), exclusive: true)
        let s = try a.openSession(box, node: "n1", session: "s")
        XCTAssertEqual(s.finishedIntent, 1)
        XCTAssertTrue(f.files("example.test/P3_alice.mbx").contains("passwd"))
        try s.release()
    }

    // The window runs out in the middle of U3: it stops, and the intent finishes the job at the next login.
    func testWindowRunningOutMidUpdateLeavesTheIntentForTheNextHolder() throws {
        var hookVolume: HookVolume!
        let (f, a, b, box) = try make { v in
            hookVolume = HookVolume(v)
            return hookVolume
        }
        let m = try (0..<3).map { try a.deliver(to: box, message: Array("m\($0)\n".utf8), enforceQuota: false) }
        let s = try a.openSession(box, node: "n1", session: "s")
        let clock = self.clock
        hookVolume.beforeRename { _, to in
            // The intent is being put in place: the process freezes for longer than its window.
            if to.name == "intent" { clock.advance(seconds: 20) }
        }
        XCTAssertThrowsError(try s.commit(deleting: [m[0], m[1]]))
        hookVolume.beforeRename(nil)
        XCTAssertEqual(try a.mailboxInfo(box).messageCount, 3, "nothing unlinked after the window")
        try s.release()
        let next = try b.openSession(box, node: "n2", session: "next")
        XCTAssertEqual(next.messages, [m[2]])
        XCTAssertEqual(f.files("example.test/P3_alice.mbx").filter { $0 == "intent" }, [])
        try next.release()
    }

    // Lost replies in the steal: S2, S4 and S5 each performed and reported failed, or failed without being
    // performed. Afterwards exactly one lock name exists and the store agrees with what the stealer was told.
    func testStealWithLostRepliesDecidesFromTheNames() throws {
        for fault in [FaultInjectingVolume.Fault.performThenFail, .failWithoutPerforming] {
            for call in 1...4 {
                var faulty: FaultInjectingVolume!
                let (f, a, b, box) = try make { v in
                    faulty = FaultInjectingVolume(v)
                    return faulty
                }
                _ = try a.openSession(box, node: "n1", session: "dead")
                assertInUse(try b.openSession(box, node: "n2", session: "s2"))
                clock.advance(seconds: lease)
                faulty.inject(.init(operation: .rename, fault: fault, call: call))
                let result = Result { try b.openSession(box, node: "n2", session: "s2") }
                faulty.inject(nil)
                let names = lockNames(f)
                XCTAssertEqual(names.count, 1, "\(fault) at rename \(call): \(names)")
                switch result {
                case .success(let s):
                    guard case .session(let r) = try a.lockState(box) else { return XCTFail("\(fault) \(call)") }
                    XCTAssertEqual(r.session, "s2", "\(fault) \(call)")
                    try s.release()
                case .failure:
                    XCTAssertEqual(fault, .failWithoutPerforming, "a lost reply alone never fails a steal (rename \(call))")
                    guard case .session(let r) = try a.lockState(box) else {
                        XCTAssertEqual(names, ["lock"], "\(fault) \(call)")
                        continue
                    }
                    XCTAssertEqual(r.session, "dead", "\(fault) \(call): the lock is put back untouched")
                }
                XCTAssertEqual(f.files("example.test/P3_alice.mbx/tmp"), [], "\(fault) \(call)")
            }
        }
    }

    // Two observers decide to steal the same stale lock at the same time: one wins.
    func testRacingStealersHaveOneWinner() throws {
        let (f, a, b, box) = try make()
        let c = try MailStore.open(volume: f.volume, guid: f.guid, clock: clock)
        for round in 0..<20 {
            let dead = try a.openSession(box, node: "n1", session: "dead\(round)")
            assertInUse(try b.openSession(box, node: "n2", session: "x"))
            assertInUse(try c.openSession(box, node: "n3", session: "y"))
            clock.advance(seconds: lease)
            let winners = Collector<MailboxSession>()
            DispatchQueue.concurrentPerform(iterations: 2) { i in
                if let s = try? [b, c][i].openSession(box, node: "n\(i + 2)", session: "r\(round).\(i)") { winners.add(s) }
            }
            XCTAssertEqual(winners.all.count, 1, "round \(round)")
            XCTAssertEqual(lockNames(f), ["kcol"])
            try dead.release()
            for s in winners.all { try s.release() }
            XCTAssertEqual(lockNames(f), ["lock"])
        }
    }

    func testForceUnlockRefusesALiveSessionAndBreaksADeadOne() throws {
        let (f, a, b, box) = try make()
        let live = try a.openSession(box, node: "n1", session: "live")
        XCTAssertThrowsError(try b.forceUnlock(box, by: "admin", wait: { seconds in
            // The live holder heartbeats every L/3 while the CLI waits.
            for _ in 0..<4 {
                self.clock.advance(seconds: seconds / 4)
                XCTAssertEqual(live.heartbeat(), .confirmed)
            }
        })) { e in
            guard case .inUse = e as? LockRefusal else { return XCTFail("\(e)") }
        }
        guard case .session = try a.lockState(box) else { return XCTFail("a live lock is never broken") }
        // Now the holder dies (no more heartbeats).
        XCTAssertTrue(try b.forceUnlock(box, by: "admin", wait: { self.clock.advance(seconds: $0) }))
        XCTAssertEqual(lockNames(f), ["lock"])
        XCTAssertFalse(try b.forceUnlock(box, by: "admin", wait: { _ in XCTFail("free: no wait") }))
    }

    func testObserverTableIsBounded() {
        let o = LockObserver()
        for i in 0..<(LockObserver.maxEntries + 5) {
            XCTAssertFalse(o.isStale(mailbox: "m\(i)", .init(name: "kcol", bytes: [1]), now: UInt64(i), lease: 10))
        }
        XCTAssertTrue(o.isStale(mailbox: "m\(LockObserver.maxEntries + 4)", .init(name: "kcol", bytes: [1]), now: UInt64.max / 2, lease: 10))
    }
}
