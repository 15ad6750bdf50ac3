import Foundation
import XCTest

@testable import SharedStore

/// `poplar fsck` (issue 16): each test writes into the store exactly what a crash (or a damaged disk) leaves, checks
/// the finding, then what `--repair` did, then that a second run is clean. Runs on a local root and over NFS.
final class FsckTests: XCTestCase {
    let clock = ManualLeaseClock()
    static let message = "P3_20260101000000000123450001.eml"

    func open(_ f: StoreFixture) throws -> MailStore {
        try MailStore.open(volume: f.volume, guid: f.guid, clock: clock)
    }

    /// Runs fsck; the one-lease wait of a lock repair advances the manual clock instead of sleeping.
    func fsck(_ store: MailStore, _ scope: FsckScope = .store, repair: Bool) throws -> FsckReport {
        var waits = 0
        let report = try store.fsck(scope, options: .init(repair: repair, by: "fsck-test")) { seconds in
            waits += 1
            self.clock.advance(seconds: seconds)
        }
        XCTAssertLessThanOrEqual(waits, 1, "fsck waits at most one lease per run")
        return report
    }

    /// Writes a file whose modification time is in the past from outside the volume (the fixture's local directory),
    /// before the NFS server has seen it (it keeps attributes it served for a while).
    func writeOld(_ f: StoreFixture, _ relative: String, _ bytes: [UInt8], hours: Double) throws {
        try FileManager.default.createDirectory(atPath: (f.path + "/" + relative as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: f.path + "/" + relative, contents: Data(bytes)))
        try age(f, relative, hours: hours)
    }

    func age(_ f: StoreFixture, _ relative: String, hours: Double) throws {
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -hours * 3600)], ofItemAtPath: f.path + "/" + relative)
    }

    func mailboxPath(_ a: MailboxAddress) throws -> StorePath { try StorePath([a.domain, "P3_\(a.mailbox).mbx"]) }

    func assertCleanAgain(_ store: MailStore, file: StaticString = #filePath, line: UInt = #line) throws {
        let again = try fsck(store, repair: false)
        XCTAssertEqual(again.findings, [], file: file, line: line)
        XCTAssertTrue(again.clean, file: file, line: line)
    }

    func testACleanStoreIsCleanAndItsTimeIsWritten() throws {
        let f = try StoreFixture()
        let store = try open(f)
        let a = try f.mailbox("alice", quota: 1 << 20)
        _ = try store.deliver(to: a, message: Array("Subject: x\r\n\r\nhello\r\n".utf8), enforceQuota: true)
        _ = try f.mailbox("bob")
        let before = Date(timeIntervalSinceNow: -1)
        let report = try fsck(store, repair: false)
        XCTAssertEqual(report.findings, [])
        XCTAssertTrue(report.clean)
        XCTAssertEqual(report.domains, 1)
        XCTAssertEqual(report.mailboxes, 2)
        XCTAssertEqual(report.messages, 1)
        let last = try XCTUnwrap(try store.fsckLastClean())
        XCTAssertGreaterThanOrEqual(last, before)
    }

    func testOldTemporaryFilesAreRemovedAndFreshOnesKept() throws {
        let f = try StoreFixture()
        let store = try open(f)
        let a = try f.mailbox("alice")
        let tmp = try mailboxPath(a).appending("tmp")
        // A delivery that crashed an hour and a half ago, and one in flight now.
        try writeOld(f, "example.test/P3_alice.mbx/tmp/20260101000000000123450001.1f2e", Array("Subject: half\r\n".utf8), hours: 1.5)
        try f.volume.writeFile(try tmp.appending("20260101000000000123450002.3a4b"), Array("Subject: now\r\n".utf8), exclusive: true)
        try writeOld(f, ".poplar/tmp/domains.123", Array("version=9\n".utf8), hours: 3)

        let report = try fsck(store, repair: false)
        XCTAssertEqual(report.findings.map(\.location).sorted(),
                       [".poplar/tmp/domains.123", "example.test/P3_alice.mbx/tmp/20260101000000000123450001.1f2e"])
        XCTAssertFalse(report.clean)
        XCTAssertTrue(report.findings.allSatisfy { $0.action.contains("--repair removes it") && !$0.repaired })
        XCTAssertNil(try store.fsckLastClean(), "a run with findings is not a clean run")

        let repaired = try fsck(store, repair: true)
        XCTAssertTrue(repaired.clean)
        XCTAssertEqual(repaired.findings.map(\.action), ["removed", "removed"])
        XCTAssertEqual(f.files("example.test/P3_alice.mbx/tmp"), ["20260101000000000123450002.3a4b"], "the delivery in flight is kept")
        XCTAssertEqual(f.files(".poplar/tmp"), [])
        try assertCleanAgain(store)
    }

    func testAPickupFileACoordinatorNeverFinishedIsRequeued() throws {
        let f = try StoreFixture()
        let store = try open(f)
        let pickup = try StorePath([".poplar", "pickup"])
        let text = Array("x-sender: a@b.test\r\nx-receiver: alice@example.test\r\n\r\nSubject: p\r\n\r\nhi\r\n".utf8)
        try writeOld(f, ".poplar/pickup/.work.1234.msg1.txt", text, hours: 2)
        try f.volume.writeFile(try pickup.appending(".work.99.msg2.txt"), text, exclusive: true)  // being delivered now
        // Another file dropped since under the same name keeps its name.
        try f.volume.writeFile(try pickup.appending("msg1.txt"), Array("x-receiver: bob@example.test\r\n\r\nother\r\n".utf8), exclusive: true)

        let report = try fsck(store, repair: false)
        XCTAssertEqual(report.findings.map(\.location), [".poplar/pickup/.work.1234.msg1.txt"])
        XCTAssertTrue(report.findings[0].action.contains("requeues"))

        let repaired = try fsck(store, repair: true)
        XCTAssertTrue(repaired.clean)
        let files = f.files(".poplar/pickup")
        XCTAssertEqual(files.count, 3)
        XCTAssertTrue(files.contains(".work.99.msg2.txt"))
        XCTAssertFalse(files.contains(".work.1234.msg1.txt"))
        let requeued = try XCTUnwrap(files.first { $0.hasPrefix("msg1.txt.requeued-") })
        XCTAssertEqual(try f.volume.readAll(try pickup.appending(requeued), limit: 1 << 16), text, "requeued whole, never deleted")
        XCTAssertTrue(repaired.findings[0].action.contains(requeued))
        try assertCleanAgain(store)
    }

    /// What a node killed with SIGKILL leaves: `kcol` with its session record, the node gone from the registry.
    func leaveDeadLock(_ f: StoreFixture, _ a: MailboxAddress, node: String, incarnation: ProcessIncarnation? = nil, privateName: String? = nil) throws {
        let dir = try mailboxPath(a)
        let name = privateName ?? MailStore.heldName
        try f.volume.rename(try dir.appending(MailStore.lockName), to: try dir.appending(name))
        let record = OwnerRecord(kind: .session, node: node, session: "s-\(node)", since: Date(), beat: 7, incarnation: incarnation)
        try f.volume.overwriteExisting(try dir.appending(name), record.encoded())
    }

    func publish(_ store: MailStore, _ node: String, updated: Date = Date()) throws {
        try store.publishNode(NodeRecord(node: node, address: "127.0.0.1:1110", version: "test", pid: 1, started: updated, updated: updated,
                                         beat: 1, draining: false, sessions: []))
    }

    func testLocksOfGoneHoldersAreFreedThroughTheStealPath() throws {
        let f = try StoreFixture()
        let store = try open(f)
        let gone = try f.mailbox("gone"), silent = try f.mailbox("silent"), dead = try f.mailbox("dead")
        let live = try f.mailbox("live"), claimed = try f.mailbox("claimed"), admin = try f.mailbox("admin")
        let me = try XCTUnwrap(ProcessIncarnation.current)
        let deadHere = ProcessIncarnation(bootID: me.bootID, pidNamespace: me.pidNamespace, pid: 4_194_305, startTicks: 1)
        try publish(store, "n-live")
        try publish(store, "n-silent", updated: Date(timeIntervalSinceNow: -600))
        try publish(store, "n-restarted")
        try leaveDeadLock(f, gone, node: "n-gone")                       // not in the registry
        try leaveDeadLock(f, silent, node: "n-silent")                   // its registry record is silent
        try leaveDeadLock(f, dead, node: "n-restarted", incarnation: deadHere)  // its process died on this machine
        try leaveDeadLock(f, live, node: "n-live", incarnation: me)      // a live session: never touched
        try leaveDeadLock(f, claimed, node: "n-gone", privateName: "kcol.n-gone.0123456789abcdef")  // died between T3 and T1
        try store.adminLock(admin, by: "operator")                       // the administrator's: never stale

        let report = try fsck(store, repair: false)
        let byWhere = Dictionary(report.findings.map { ($0.location, $0) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(Set(byWhere.keys), Set(["\(gone)", "\(silent)", "\(dead)", "\(claimed)"]))
        XCTAssertTrue(byWhere["\(gone)"]!.problem.contains("not in the node registry"))
        XCTAssertTrue(byWhere["\(silent)"]!.problem.contains("silent"))
        XCTAssertTrue(byWhere["\(dead)"]!.problem.contains("is dead"))
        XCTAssertTrue(byWhere["\(claimed)"]!.problem.contains("kcol.n-gone.0123456789abcdef"))
        XCTAssertEqual(try store.lockState(gone), .session(try OwnerRecord(decoding: try f.volume.readAll(try mailboxPath(gone).appending("kcol"), limit: 4096))),
                       "without --repair nothing changes")

        // Repair observes them all, waits one lease once, and steals each through the protocol.
        let repaired = try fsck(store, repair: true)
        XCTAssertTrue(repaired.clean, "\(repaired.findings)")
        XCTAssertEqual(repaired.findings.count, 4)
        XCTAssertTrue(repaired.findings.allSatisfy { $0.action.contains("steal path") })
        for a in [gone, silent, dead, claimed] { XCTAssertEqual(try store.lockState(a), .free, "\(a)") }
        guard case .session(let r) = try store.lockState(live) else { return XCTFail("the live session's lock was touched") }
        XCTAssertEqual(r.node, "n-live")
        guard case .admin = try store.lockState(admin) else { return XCTFail("the administrator's lock was touched") }
        // The freed mailboxes serve a session again.
        let session = try store.openSession(gone, node: "n-live", session: "after")
        try session.lock.release()
        try assertCleanAgain(store)
    }

    func testALockWhoseHolderBeatsWhileWatchedIsNotFreed() throws {
        let f = try StoreFixture()
        let store = try open(f)
        let a = try f.mailbox("alice")
        try leaveDeadLock(f, a, node: "n-away")
        let dir = try mailboxPath(a)
        // The holder is not in the registry but still writes its heartbeat while fsck watches.
        let report = try store.fsck(.mailbox(a), options: .init(repair: true, by: "fsck-test")) { seconds in
            let record = OwnerRecord(kind: .session, node: "n-away", session: "s-n-away", since: Date(), beat: 8)
            try? f.volume.overwriteExisting(try! dir.appending("kcol"), record.encoded())
            self.clock.advance(seconds: seconds)
        }
        XCTAssertFalse(report.clean)
        XCTAssertEqual(report.findings.count, 1)
        XCTAssertTrue(report.findings[0].action.contains("not freed"), report.findings[0].action)
        guard case .session(let r) = try store.lockState(a) else { return XCTFail("a live lock was broken") }
        XCTAssertEqual(r.beat, 8)
    }

    func testAMissingLockIsMadeAndTwoLockNamesAreReported() throws {
        let f = try StoreFixture()
        let store = try open(f)
        let none = try f.mailbox("none"), two = try f.mailbox("two")
        try f.volume.unlink(try mailboxPath(none).appending("lock"))
        try f.volume.writeFile(try mailboxPath(two).appending("kcol"), OwnerRecord(kind: .session, node: "n1", session: "s", since: Date()).encoded(), exclusive: true)

        let report = try fsck(store, repair: false)
        XCTAssertEqual(report.findings.map(\.location).sorted(), ["\(none)", "\(two)"])
        XCTAssertTrue(report.findings.first { $0.location == "\(none)" }!.problem.contains("no lock name"))
        XCTAssertTrue(report.findings.first { $0.location == "\(two)" }!.problem.contains("2 lock names (kcol, lock)"))

        let repaired = try fsck(store, repair: true)
        XCTAssertFalse(repaired.clean, "two lock names are not repaired")
        XCTAssertTrue(repaired.findings.first { $0.location == "\(none)" }!.repaired)
        XCTAssertFalse(repaired.findings.first { $0.location == "\(two)" }!.repaired)
        XCTAssertEqual(try store.lockState(none), .free)
        XCTAssertEqual(f.files("example.test/P3_two.mbx").filter { $0 == "lock" || $0.hasPrefix("kcol") }, ["kcol", "lock"], "both names kept")
        try f.volume.unlink(try mailboxPath(two).appending("kcol"))
        try assertCleanAgain(store)
    }

    func testUnreadableMessagesAreQuarantinedUnderTheLockNeverDeleted() throws {
        let f = try StoreFixture()
        let store = try open(f)
        let a = try f.mailbox("alice")
        let good = try store.deliver(to: a, message: Array("Subject: good\r\n\r\nbody\r\n".utf8), enforceQuota: false)
        // A message name on a directory (what a damaged disk's repair leaves), with a file inside.
        let bad = try mailboxPath(a).appending(Self.message)
        try f.volume.mkdir(bad)
        try f.volume.writeFile(try bad.appending("part"), Array("lost".utf8), exclusive: true)

        let report = try fsck(store, repair: false)
        XCTAssertEqual(report.findings.map(\.location), ["example.test/P3_alice.mbx/\(Self.message)"])
        XCTAssertTrue(report.findings[0].problem.contains("a directory"))
        XCTAssertEqual(report.messages, 2)

        // While a session of a live node holds the mailbox, repair leaves it alone and says so.
        try publish(store, "n1")
        let session = try store.openSession(a, node: "n1", session: "s1")
        let skipped = try fsck(store, repair: true)
        XCTAssertFalse(skipped.clean)
        XCTAssertTrue(skipped.findings[0].action.contains("skipped: a session holds the mailbox"), skipped.findings[0].action)
        XCTAssertTrue(f.files("example.test/P3_alice.mbx").contains(Self.message))
        try session.lock.release()

        let repaired = try fsck(store, repair: true)
        XCTAssertTrue(repaired.clean, "\(repaired.findings)")
        XCTAssertTrue(repaired.findings[0].action.contains("quarantine/\(Self.message)"))
        XCTAssertFalse(f.files("example.test/P3_alice.mbx").contains(Self.message))
        XCTAssertEqual(f.files("example.test/P3_alice.mbx/quarantine"), [Self.message])
        XCTAssertEqual(f.files("example.test/P3_alice.mbx/quarantine/\(Self.message)"), ["part"], "moved whole")
        XCTAssertEqual(try store.lockState(a), .free, "fsck gave its lock back")
        let after = try store.openSession(a, node: "n1", session: "s2")
        XCTAssertEqual(after.messages.map(\.fileName), [good.fileName])
        try after.lock.release()
        try assertCleanAgain(store)
    }

    func testTheMetabaseAgainstTheDirectories() throws {
        let f = try StoreFixture()
        let store = try open(f)
        try store.addDomain("nodir.test")
        try f.volume.rmdir(try StorePath(["nodir.test"]))
        try f.volume.mkdir(try StorePath(["stray.test"]))
        let nopass = try f.mailbox("nopass")
        try f.volume.unlink(try mailboxPath(nopass).appending("passwd"))
        let notmp = try f.mailbox("notmp")
        try f.volume.rmdir(try mailboxPath(notmp).appending("tmp"))

        let report = try fsck(store, repair: false)
        XCTAssertEqual(report.findings.map(\.location).sorted(), ["nodir.test", "\(nopass)", "\(notmp)", "stray.test"])
        XCTAssertTrue(report.findings.first { $0.location == "nodir.test" }!.problem.contains("has no directory"))
        XCTAssertTrue(report.findings.first { $0.location == "stray.test" }!.problem.contains("not a domain of the metabase"))
        XCTAssertTrue(report.findings.first { $0.location == "\(nopass)" }!.problem.contains("no password record"))

        let repaired = try fsck(store, repair: true)
        XCTAssertEqual(repaired.findings.filter(\.repaired).map(\.location).sorted(), ["nodir.test", "\(notmp)"])
        XCTAssertEqual(repaired.findings.filter { !$0.repaired }.map(\.location).sorted(), ["\(nopass)", "stray.test"])
        XCTAssertTrue(try f.volume.exists(try StorePath(["nodir.test"])))
        XCTAssertTrue(try f.volume.exists(try mailboxPath(notmp).appending("tmp")))
        XCTAssertTrue(try f.volume.exists(try StorePath(["stray.test"])), "never deleted")
        // The operator's fixes, then a clean run.
        try store.addDomain("stray.test")
        try store.removeMailbox(nopass)
        try assertCleanAgain(store)
    }

    func testPasswordRecordsOfAnUnknownGUIDAndDamagedQuotas() throws {
        let f = try StoreFixture()
        let store = try open(f)
        let a = try f.mailbox("alice", quota: 1000)
        let other = ClusterGUID.generate()
        let record = try PasswordHasher.makeRecord(password: "pw", address: a, guid: other, rounds: 1000, allowAPOP: false)
        try f.volume.writeAtomically(try mailboxPath(a).appending("passwd"), record.encoded(), staging: try mailboxPath(a).appending("tmp"))
        try f.volume.writeAtomically(try mailboxPath(a).appending("quota"), Array("lots\n".utf8), staging: try mailboxPath(a).appending("tmp"))

        let repaired = try fsck(store, repair: true)
        XCTAssertFalse(repaired.clean)
        XCTAssertEqual(repaired.findings.count, 2)
        XCTAssertTrue(repaired.findings.contains { $0.problem.contains("neither the current nor the previous") && $0.action.contains("poplar mailbox passwd") && !$0.repaired })
        XCTAssertTrue(repaired.findings.contains { $0.problem.contains("quota file") && $0.action.contains("poplar mailbox quota") && !$0.repaired })
        try store.setPassword(a, password: "new", allowAPOP: false)
        try store.setQuota(a, 1000)
        try assertCleanAgain(store)
    }

    func testScopesCheckOnlyWhatTheyName() throws {
        let f = try StoreFixture()
        let store = try open(f)
        let a = try f.mailbox("alice"), b = try f.mailbox("bob")
        try f.volume.unlink(try mailboxPath(b).appending("lock"))
        XCTAssertEqual(try fsck(store, .mailbox(a), repair: false).findings, [])
        XCTAssertEqual(try fsck(store, .mailbox(b), repair: false).findings.map(\.location), ["\(b)"])
        let domain = try fsck(store, .domain("example.test"), repair: false)
        XCTAssertEqual(domain.mailboxes, 2)
        XCTAssertEqual(domain.findings.count, 1)
        XCTAssertNil(try store.fsckLastClean())
    }
}
