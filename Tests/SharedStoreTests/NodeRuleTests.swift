import Foundation
import XCTest

@testable import SharedStore

/// The node rule of docs/lock-protocol.md (issue 20, decision 0013), on the manual clock: a node instance's
/// liveness record guards every session it holds, and any node takes a lock over once the instances that could act
/// on it are dead, whenever its client first looks.
final class NodeRuleTests: XCTestCase {
    private var fixtures: [StoreFixture] = []
    let clock = ManualLeaseClock()
    let lease = LockLease()  // 30 s: W = 15 s

    /// Two nodes over one mail root, each with its own instance, both beating once.
    func make() throws -> (f: StoreFixture, a: MailStore, la: NodeLiveness, b: MailStore, lb: NodeLiveness, box: MailboxAddress) {
        let f = try StoreFixture()
        fixtures.append(f)
        let box = try f.mailbox("alice")
        let a = try MailStore.open(volume: f.volume, guid: f.guid, clock: clock)
        let b = try MailStore.open(volume: try f.anotherVolume(), guid: f.guid, clock: clock)
        let la = NodeLiveness(node: "n1", lease: lease, clock: clock), lb = NodeLiveness(node: "n2", lease: lease, clock: clock)
        a.attachLiveness(la)
        b.attachLiveness(lb)
        XCTAssertNil(a.beatLiveness(la))
        XCTAssertNil(b.beatLiveness(lb))
        try a.scanLiveness(own: la)
        try b.scanLiveness(own: lb)
        return (f, a, la, b, lb, box)
    }

    func assertInUse(_ body: @autoclosure () throws -> MailboxSession, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { e in
            guard case .inUse = e as? LockRefusal else { return XCTFail("\(e)", file: file, line: line) }
        }
    }

    /// `b` (its watch started now) still finds `box` in use a second before the lease runs out, and takes it over
    /// at the lease.
    func assertTakenOverOneLeaseLater(_ b: MailStore, _ lb: NodeLiveness, _ box: MailboxAddress,
                                      file: StaticString = #filePath, line: UInt = #line) throws {
        clock.advance(seconds: 29)
        XCTAssertNil(b.beatLiveness(lb), file: file, line: line)
        assertInUse(try b.openSession(box, node: "n2", session: "s2"), file: file, line: line)
        clock.advance(seconds: 1)
        XCTAssertNil(b.beatLiveness(lb), file: file, line: line)
        let s = try b.openSession(box, node: "n2", session: "s3")
        XCTAssertTrue(s.tookOver, file: file, line: line)
        try s.release()
    }

    func testLoginWaitsForTheInstancesFirstConfirmedBeat() throws {
        let f = try StoreFixture()
        fixtures.append(f)
        let box = try f.mailbox("alice")
        let a = try MailStore.open(volume: f.volume, guid: f.guid, clock: clock)
        let la = NodeLiveness(node: "n1", lease: lease, clock: clock)
        a.attachLiveness(la)
        XCTAssertFalse(la.isOpen)
        XCTAssertThrowsError(try a.openSession(box, node: "n1", session: "s1")) { XCTAssertEqual(($0 as? StoreError)?.code, .unavailable) }
        XCTAssertEqual(f.files("example.test/P3_alice.mbx").filter { $0.hasPrefix("kcol") }, [], "nothing taken")
        XCTAssertNil(a.beatLiveness(la))
        let s = try a.openSession(box, node: "n1", session: "s1")
        XCTAssertEqual(s.owner.live, la.instance, "the record names the instance that guards it")
        XCTAssertEqual(f.files(".poplar/live"), [la.instance])
        try s.release()
    }

    // A session is guarded by its node's window as well as its own: when the node cannot confirm a beat for W, the
    // session deletes nothing even though its own heartbeat is fresh, and a later confirmed beat does not revive it.
    func testLapseOfTheNodesWindowEndsItsSessionsForGood() throws {
        let (f, a, la, _, _, box) = try make()
        let m = try a.deliver(to: box, message: Array("x\n".utf8), enforceQuota: false)
        let s = try a.openSession(box, node: "n1", session: "s1")
        clock.advance(seconds: 10)
        XCTAssertEqual(s.heartbeat(), .confirmed, "its own window now runs to 25 s")
        clock.advance(seconds: 5.5)
        XCTAssertNotNil(s.lostReason)
        XCTAssertTrue(s.lostReason?.contains("liveness") == true, s.lostReason ?? "")
        XCTAssertThrowsError(try s.commit(deleting: [m]))
        XCTAssertThrowsError(try a.openSession(try f.mailbox("bob"), node: "n1", session: "s2"), "no login while the window is closed")
        XCTAssertNil(a.beatLiveness(la))
        XCTAssertEqual(la.lapses, 1)
        XCTAssertNotNil(s.lostReason, "a lapse is final for the sessions that were open")
        XCTAssertThrowsError(try s.commit(deleting: [m]))
        XCTAssertEqual(try a.mailboxInfo(box).messageCount, 1, "nothing deleted")
        let again = try a.openSession(try f.mailbox("carol"), node: "n1", session: "s3")
        XCTAssertNil(again.lostReason, "new logins go on")
        try again.release()
    }

    // The clock for a dead instance starts at the watch's first sight of its last record, not at the client's first
    // look: a client that comes back late gets the mailbox one lease after the instance's last beat.
    func testDeadInstanceIsTakenOverOneLeaseAfterItsLastBeatWhateverTheFirstLook() throws {
        let (_, a, _, b, lb, box) = try make()
        let m = try a.deliver(to: box, message: Array("x\n".utf8), enforceQuota: false)
        let held = try a.openSession(box, node: "n1", session: "dead")
        // n1 dies now: neither its liveness record nor its session's record changes again. n2 goes on beating.
        for _ in 0..<29 {
            clock.advance(seconds: 1)
            XCTAssertNil(b.beatLiveness(lb))
            try b.scanLiveness(own: lb)
        }
        clock.advance(seconds: 0.9)
        assertInUse(try b.openSession(box, node: "n2", session: "early"))  // the first look at the mailbox: 29.9 s
        clock.advance(seconds: 0.1)
        XCTAssertNil(b.beatLiveness(lb))
        let s = try b.openSession(box, node: "n2", session: "late")
        XCTAssertTrue(s.tookOver, "one lease after n1's last beat, though n2 looked at the mailbox only 0.1 s ago")
        XCTAssertThrowsError(try held.commit(deleting: [m]), "the dead holder stays fenced")
        try s.release()
    }

    // A live instance's locks are never taken over by the node rule, however long ago its record was first seen.
    func testLiveInstanceKeepsItsLocks() throws {
        let (_, a, la, b, lb, box) = try make()
        let s = try a.openSession(box, node: "n1", session: "alive")
        for t in 1...50 {
            clock.advance(seconds: 1)
            XCTAssertNil(a.beatLiveness(la))
            XCTAssertNil(b.beatLiveness(lb))
            try b.scanLiveness(own: lb)
            if t % 10 == 0 { XCTAssertEqual(s.heartbeat(), .confirmed) }
            if t % 7 == 0 { assertInUse(try b.openSession(box, node: "n2", session: "s\(t)")) }
        }
        XCTAssertNil(s.lostReason)
        try s.release()
    }

    // A record or a private name of this very instance that none of its sessions or steps uses any more (an R3 given
    // up, a release that failed) is reclaimed by the instance at once; another live node waits.
    func testOwnLeftoverIsReclaimedAtOnce() throws {
        let (f, a, la, b, _, box) = try make()
        var s: MailboxSession? = try a.openSession(box, node: "n1", session: "gone")
        let dir = "example.test/P3_alice.mbx"
        let leftover = "kcol.n1.\(la.instance).0123456789abcdef"
        // Through the store's own volume (over NFS the server caches what it serves: a rename behind its back is not
        // seen at once).
        try f.volume.rename(try StorePath(["example.test", "P3_alice.mbx", "kcol"]), to: try StorePath(["example.test", "P3_alice.mbx", leftover]))
        assertInUse(try a.openSession(box, node: "n1", session: "next"))  // the session still exists: not a leftover
        s = nil
        XCTAssertNil(s)
        assertInUse(try b.openSession(box, node: "n2", session: "other"))
        let mine = try a.openSession(box, node: "n1", session: "next")
        XCTAssertTrue(mine.tookOver)
        XCTAssertEqual(f.files(dir).filter { $0.hasPrefix("kcol") }, ["kcol"])
        try mine.release()
    }

    // A node restarted on the same machine is a new instance; its predecessor's liveness record names a process that
    // is dead here, so the restarted node takes the predecessor's locks back at once. A node of another id waits a
    // lease (it cannot tell a process of another node from one on another machine, and the model covers only a
    // node's own earlier incarnation).
    func testRestartedNodeTakesBackItsDeadPredecessorsLocksAtOnce() throws {
        let (f, _, _, b, lb, box) = try make()
        let c = try MailStore.open(volume: f.volume, guid: f.guid, clock: clock)
        let lc = NodeLiveness(node: "n3", lease: lease, clock: clock)
        c.attachLiveness(lc)
        XCTAssertNil(c.beatLiveness(lc))
        _ = try c.openSession(box, node: "n3", session: "crashed")
        let me = try XCTUnwrap(ProcessIncarnation.current)
        let dead = ProcessIncarnation(bootID: me.bootID, pidNamespace: me.pidNamespace, pid: me.pid, startTicks: me.startTicks + 1)
        let record = LivenessRecord(node: "n3", instance: lc.instance, incarnation: dead, beat: 9).encoded()
        try f.volume.writeFile(try StorePath([".poplar", "live", lc.instance]), record, exclusive: false)
        XCTAssertNil(b.beatLiveness(lb))
        assertInUse(try b.openSession(box, node: "n2", session: "s2"))
        let restarted = try MailStore.open(volume: f.volume, guid: f.guid, clock: clock)
        let lr = NodeLiveness(node: "n3", lease: lease, clock: clock)
        restarted.attachLiveness(lr)
        XCTAssertNil(restarted.beatLiveness(lr))
        let s = try restarted.openSession(box, node: "n3", session: "s3")
        XCTAssertTrue(s.tookOver)
        try s.release()
    }

    // A clean stop removes the instance's record; an absent record is dead one lease after it was first seen absent.
    func testAbsentRecordCountsAsUnchanged() throws {
        let (f, a, la, b, lb, box) = try make()
        _ = try a.openSession(box, node: "n1", session: "s1")
        a.removeLivenessRecord(la)
        XCTAssertEqual(f.files(".poplar/live"), [lb.instance])
        try b.scanLiveness(own: lb)
        try assertTakenOverOneLeaseLater(b, lb, box)
    }

    // A record damaged on the NAS (8 KB of other bytes: a rewrite in place would keep the tail) never keeps a live
    // node closed: the beat replaces it whole and is confirmed.
    func testOwnDamagedRecordIsReplacedAndTheBeatConfirmed() throws {
        let (f, a, la, _, _, box) = try make()
        let path = try MailStore.livenessPath(la.instance)
        try f.volume.writeAtomically(path, Array(repeating: 0x7A, count: 8192), staging: MailStore.metaTmp)
        clock.advance(seconds: 1)
        XCTAssertNil(a.beatLiveness(la), "confirmed after the replacement")
        XCTAssertEqual(try f.volume.readAll(path, limit: LivenessRecord.maxSize).count,
                       LivenessRecord(node: "n1", instance: la.instance, incarnation: .current, beat: 0).encoded().count)
        clock.advance(seconds: 14.5)  // past W (15 s) from make()'s beat: only the replacement's confirmation keeps it open
        let s = try a.openSession(box, node: "n1", session: "s1")
        XCTAssertNil(s.lostReason)
        try s.release()
    }

    // Another instance's record that is too large to be one (damaged, or not ours) is still judged: by its first
    // bytes, unchanged for a lease is dead, and its locks are taken over; a file that changes is not.
    func testOversizedRecordOfADeadInstanceIsJudgedByItsFirstBytes() throws {
        let (f, a, la, b, lb, box) = try make()
        _ = try a.openSession(box, node: "n1", session: "s1")
        let path = try MailStore.livenessPath(la.instance)
        var junk = Array(repeating: UInt8(0x41), count: 64 * 1024)
        try f.volume.writeAtomically(path, junk, staging: MailStore.metaTmp)
        try b.scanLiveness(own: lb)
        clock.advance(seconds: 20)
        junk[0] = 0x42  // rewritten in place: a change
        try f.volume.overwriteExisting(path, junk)
        XCTAssertNil(b.beatLiveness(lb))
        try b.scanLiveness(own: lb)
        try assertTakenOverOneLeaseLater(b, lb, box)
    }

    func testLivenessRecordsHaveOneLengthAndDecodeOnlyWhole() throws {
        let inc = ProcessIncarnation.current
        let one = LivenessRecord(node: "Node 1", instance: "0123456789abcdef", incarnation: inc, beat: 1).encoded()
        let big = LivenessRecord(node: "Node 1", instance: "0123456789abcdef", incarnation: inc, beat: UInt64.max).encoded()
        XCTAssertEqual(one.count, big.count, "a rewrite in place leaves no tail")
        XCTAssertNotEqual(one, LivenessRecord(node: "Node 1", instance: "0123456789abcdef", incarnation: inc, beat: 1).encoded(),
                          "records never repeat")
        XCTAssertEqual(LivenessRecord(decoding: one)?.beat, 1)
        XCTAssertEqual(LivenessRecord(decoding: one)?.incarnation, inc)
        XCTAssertNil(LivenessRecord(decoding: Array("node=a\ninstance=XYZ\nbeat=1\n".utf8)))
        XCTAssertNil(LivenessRecord(decoding: Array(repeating: 0x41, count: LivenessRecord.maxSize + 1)))
        XCTAssertNil(LivenessRecord(decoding: []))
    }

    // Old and new holders side by side: a record without `live=` (the coordinators' lease, a node of an earlier
    // version) is judged by the lock rule only.
    func testRecordWithoutInstanceIsJudgedByTheLockRule() throws {
        let (_, a, _, b, lb, box) = try make()
        let old = MailStore.privateName(for: OwnerRecord(kind: .session, node: "n1", session: "x", since: Date()))
        XCTAssertFalse(a.nodeRuleAllowsTakeover(name: old, bytes: []), "a name without an instance")
        let record = OwnerRecord(kind: .session, node: "n1", session: "x", since: Date()).encoded()
        XCTAssertFalse(b.nodeRuleAllowsTakeover(name: MailStore.heldName, bytes: record))
        XCTAssertFalse(b.nodeRuleAllowsTakeover(name: MailStore.heldName, bytes: []), "kcol with no record")
        _ = lb
        _ = box
    }

    // MARK: The cluster's `node` lock rule: sessions stop heartbeating

    func makeNodeRule() throws -> (f: StoreFixture, a: MailStore, la: NodeLiveness, b: MailStore, lb: NodeLiveness, box: MailboxAddress) {
        let m = try make()
        try m.f.store.setLockRule(.node)
        try m.a.refreshClusterInfo()
        try m.b.refreshClusterInfo()
        XCTAssertEqual(m.a.lockRule, .node)
        return m
    }

    // A session that never heartbeats costs the store nothing after its take, is guarded by its instance's window
    // alone, and no node takes it over by the lock rule however long its record stays the same.
    func testUnderTheNodeRuleSessionsDoNotHeartbeatAndOnlyTheNodeRuleJudgesThem() throws {
        let (f, a, la, b, lb, box) = try makeNodeRule()
        let s = try a.openSession(box, node: "n1", session: "quiet")
        XCTAssertFalse(s.owner.heartbeats)
        let kcol = "\(f.path)/example.test/P3_alice.mbx/kcol"
        let before = try Data(contentsOf: URL(fileURLWithPath: kcol))
        XCTAssertTrue(String(decoding: before, as: UTF8.self).contains("hb=no\n"))
        for t in 1...70 {
            clock.advance(seconds: 1)
            XCTAssertNil(a.beatLiveness(la))
            XCTAssertNil(b.beatLiveness(lb))
            try b.scanLiveness(own: lb)
            XCTAssertEqual(s.heartbeat(), .confirmed)
            if t % 5 == 0 { assertInUse(try b.openSession(box, node: "n2", session: "s\(t)")) }
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: kcol)), before, "the record was never rewritten")
        XCTAssertNil(s.lostReason, "guarded by its instance's window alone")
        // n1 dies: one lease after its last beat, n2 takes over.
        for _ in 0..<30 {
            clock.advance(seconds: 1)
            XCTAssertNil(b.beatLiveness(lb))
            try b.scanLiveness(own: lb)
        }
        let taken = try b.openSession(box, node: "n2", session: "after")
        XCTAssertTrue(taken.tookOver)
        XCTAssertNotNil(s.lostReason)
        try taken.release()
    }

    // After a lapse a session's release cannot finish (R3 is guarded), and nobody else may take a lock of a live
    // instance: the instance frees such leftovers itself as soon as its window is open again.
    func testALapsedInstanceFreesTheLocksItsLostSessionsLeft() throws {
        let (f, a, la, b, lb, box) = try makeNodeRule()
        var s: MailboxSession? = try a.openSession(box, node: "n1", session: "lapsed")
        clock.advance(seconds: 16)
        XCTAssertNotNil(s?.lostReason)
        XCTAssertThrowsError(try s?.release(), "R3 refused after the lapse")
        let names = f.files("example.test/P3_alice.mbx").filter { $0.hasPrefix("kcol") }
        XCTAssertEqual(names.count, 1)
        XCTAssertTrue(names[0].hasPrefix("kcol.n1.\(la.instance)."), "\(names)")
        s = nil
        XCTAssertEqual(la.leftoverCount, 1)
        XCTAssertNil(a.beatLiveness(la))
        XCTAssertNil(b.beatLiveness(lb))
        assertInUse(try b.openSession(box, node: "n2", session: "waits"))  // n1 lives: only n1 may free it
        a.freeLeftovers(la)
        XCTAssertEqual(la.leftoverCount, 0)
        XCTAssertEqual(f.files("example.test/P3_alice.mbx").filter { $0 == "lock" || $0.hasPrefix("kcol") }, ["lock"])
        let next = try b.openSession(box, node: "n2", session: "gets-in")
        XCTAssertFalse(next.tookOver, "a free lock")
        try next.release()
    }

    // `poplar mailbox unlock --force` (a process with no instance of its own) watches the holder instance's record
    // for a lease: a live instance's beat makes it refuse; a dead one's lock is broken.
    func testForceUnlockJudgesANodeRuleSessionByItsInstance() throws {
        let (f, a, la, _, _, box) = try makeNodeRule()
        let cli = try MailStore.open(volume: try f.anotherVolume(), guid: f.guid, clock: clock)
        let s = try a.openSession(box, node: "n1", session: "alive")
        XCTAssertThrowsError(try cli.forceUnlock(box, by: "admin", wait: { seconds in
            for _ in 0..<Int(seconds.rounded(.up)) {
                self.clock.advance(seconds: 1)
                XCTAssertNil(a.beatLiveness(la))
            }
        })) { guard case .inUse = $0 as? LockRefusal else { return XCTFail("\($0)") } }
        XCTAssertNil(s.lostReason)
        XCTAssertTrue(try cli.forceUnlock(box, by: "admin", wait: { self.clock.advance(seconds: $0) }), "n1 stopped beating")
        XCTAssertEqual(try cli.lockState(box), .free)
        XCTAssertNotNil(s.lostReason)
    }

    func testTheLockRuleIsKeptInTheClusterFile() throws {
        let f = try StoreFixture()
        fixtures.append(f)
        XCTAssertEqual(f.store.lockRule, .lease)
        try f.store.setLockRule(.node)
        let text = try String(contentsOfFile: f.path + "/.poplar/cluster", encoding: .utf8)
        XCTAssertTrue(text.contains("lock-rule=node\n"), text)
        XCTAssertEqual(try MailStore.open(volume: f.volume, guid: f.guid).lockRule, .node)
        let legacy = "format=1\nid=x\nguid-check=\(f.guid.checkValue)\n"
        XCTAssertEqual(try MailStore.decodeClusterFile(Array(legacy.utf8), guid: f.guid).lockRule, .lease, "absent: lease")
    }
}
