import Foundation
import XCTest

@testable import SharedStore

/// The parts of the store's contract the other suites leave out: error mapping, GUID files, the file formats on
/// disk, and the lock's names at each step of taking it.
final class StoreContractTests: XCTestCase {
    func testErrnoMappingAndTemporary() {
        let table: [(Int32, StoreError.Code)] = [
            (ENOENT, .notFound), (EEXIST, .alreadyExists), (ENOTEMPTY, .notEmpty), (ENOSPC, .noSpace), (EDQUOT, .noSpace),
            (EACCES, .permissionDenied), (EPERM, .permissionDenied), (EIO, .unavailable), (ETIMEDOUT, .unavailable),
            (ESTALE, .unavailable), (ENOTCONN, .unavailable), (EHOSTUNREACH, .unavailable), (EBADF, .io),
        ]
        for (err, code) in table {
            let e = StoreError.posix(err, "op")
            XCTAssertEqual(e.code, code, "errno \(err)")
            XCTAssertEqual(e.errno, err)
        }
        XCTAssertTrue(StoreError(code: .unavailable, message: "").isTemporary)
        XCTAssertTrue(StoreError(code: .noSpace, message: "").isTemporary)
        XCTAssertTrue(StoreError(code: .io, message: "").isTemporary)
        for code: StoreError.Code in [.notFound, .quotaExceeded, .corrupt, .wrongGUID, .inUse, .invalidName] {
            XCTAssertFalse(StoreError(code: code, message: "").isTemporary, "\(code)")
        }
    }

    func testGUIDTextAndFiles() throws {
        let g = ClusterGUID.generate()
        XCTAssertEqual(g.bytes.count, 32)
        XCTAssertEqual(try ClusterGUID(text: "  \(g.text.uppercased())\n"), g, "trimmed, case-insensitive")
        XCTAssertEqual(try ClusterGUID(text: String(repeating: "ab", count: 16)).bytes.count, 16)
        XCTAssertThrowsError(try ClusterGUID(text: String(repeating: "a", count: 130))) { XCTAssertEqual(($0 as? StoreError)?.code, .corrupt) }
        XCTAssertThrowsError(try ClusterGUID(text: String(repeating: "a", count: 33)), "odd length")
        XCTAssertNotEqual(g.checkValue, ClusterGUID.generate().checkValue)
        XCTAssertEqual(g.checkValue.count, 64)

        let dir = NSTemporaryDirectory() + "poplar-guid-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        XCTAssertThrowsError(try ClusterGUID.load(fromFile: dir + "/absent")) { e in
            XCTAssertEqual((e as? StoreError)?.code, .notFound)
            XCTAssertTrue("\(e)".contains(dir + "/absent"), "\(e)")
        }
        try "not a guid\n".write(toFile: dir + "/bad", atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: dir + "/bad")
        XCTAssertThrowsError(try ClusterGUID.load(fromFile: dir + "/bad")) { e in
            XCTAssertEqual((e as? StoreError)?.code, .corrupt)
            XCTAssertTrue("\(e)".contains(dir + "/bad"), "\(e)")
        }
        try (g.text + "\n").write(toFile: dir + "/good", atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: dir + "/good")
        XCTAssertEqual(try ClusterGUID.load(fromFile: dir + "/good"), g)
    }

    func testClusterFileAndNewerFormat() throws {
        let f = try StoreFixture(domain: nil)
        let text = try String(contentsOfFile: f.path + "/.poplar/cluster", encoding: .utf8)
        XCTAssertTrue(text.contains("format=1\n"))
        XCTAssertTrue(text.contains("guid-check=\(f.guid.checkValue)\n"))
        XCTAssertTrue(text.contains("kdf-rounds=1000\n"))
        XCTAssertEqual(f.store.info.kdfRounds, 1000)
        XCTAssertEqual(try MailStore.open(volume: f.volume, guid: f.guid).info.id, f.store.info.id)
        XCTAssertThrowsError(try MailStore.open(volume: f.volume, guid: .generate())) { e in
            XCTAssertTrue("\(e)".contains("every node"), "\(e)")
            XCTAssertFalse("\(e)".contains(f.guid.text), "never the GUID itself")
        }
        let newer = text.replacingOccurrences(of: "format=1", with: "format=2")
        try f.volume.writeAtomically(MailStore.clusterFile, Array(newer.utf8), staging: MailStore.metaTmp)
        XCTAssertThrowsError(try MailStore.open(volume: f.volume, guid: f.guid)) { e in
            XCTAssertEqual((e as? StoreError)?.code, .corrupt)
            XCTAssertTrue("\(e)".contains("format 2"), "\(e)")
        }
        try f.volume.writeAtomically(MailStore.clusterFile, Array("junk\n".utf8), staging: MailStore.metaTmp)
        XCTAssertThrowsError(try MailStore.open(volume: f.volume, guid: f.guid)) { XCTAssertEqual(($0 as? StoreError)?.code, .corrupt) }
    }

    func testMetabaseFileFormat() throws {
        let f = try StoreFixture(domain: nil)
        try f.store.addDomain("b.test")
        try f.store.addDomain("a.test")
        let text = try String(contentsOfFile: f.path + "/.poplar/domains", encoding: .utf8)
        XCTAssertEqual(text, "version=3\na.test\nb.test\n")
        XCTAssertTrue(FileManager.default.fileExists(atPath: f.path + "/a.test"))
        XCTAssertTrue(try f.store.isDomainAccepted("A.TEST"))
        XCTAssertThrowsError(try f.store.removeDomain("c.test", purge: false)) { XCTAssertEqual(($0 as? StoreError)?.code, .notFound) }
        XCTAssertEqual(try f.store.metabaseVersion(), 3, "a refused change changes nothing")
    }

    func testMailboxFilesAndLookups() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("Alice", password: "secret pw", apop: true, quota: 5000)
        XCTAssertEqual(a.mailbox, "alice")
        let dir = f.path + "/example.test/P3_alice.mbx"
        let passwd = try String(contentsOfFile: dir + "/passwd", encoding: .utf8)
        let lines = passwd.split(separator: "\n")
        XCTAssertEqual(lines.count, 3)
        XCTAssertTrue(lines[0].hasPrefix("phc=$pbkdf2-sha256$i=1000$"))
        XCTAssertTrue(lines[1].hasPrefix("apop="))
        XCTAssertEqual(lines[2], "key=\(f.guid.tag)", "the GUID that keys it, by its tag")
        XCTAssertFalse(passwd.contains("secret pw"))
        XCTAssertEqual(try String(contentsOfFile: dir + "/quota", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), "5000")
        XCTAssertTrue(try f.store.mailboxExists(a))
        XCTAssertTrue(try f.store.mailboxInfo(a).allowsAPOP)
        let nobody = try MailboxAddress(parsing: "nobody@example.test")
        XCTAssertFalse(try f.store.mailboxExists(nobody))
        XCTAssertThrowsError(try f.store.passwordRecord(nobody)) { XCTAssertEqual(($0 as? StoreError)?.code, .notFound) }
        XCTAssertThrowsError(try f.store.setQuota(nobody, 1)) { XCTAssertEqual(($0 as? StoreError)?.code, .notFound) }
        XCTAssertThrowsError(try f.store.openSession(nobody, node: "n", session: "s")) { XCTAssertEqual(($0 as? StoreError)?.code, .notFound) }
        // "USER ../../etc" never becomes a path.
        XCTAssertThrowsError(try MailboxAddress(mailbox: "../../etc", domain: "example.test")) { XCTAssertEqual(($0 as? StoreError)?.code, .invalidName) }

        _ = try f.store.deliver(to: a, message: Array("12345\n".utf8), enforceQuota: true)
        _ = try f.store.deliver(to: a, message: Array("1\n".utf8), enforceQuota: true)
        let info = try f.store.mailboxInfo(a)
        XCTAssertEqual(info.messageCount, 2)
        XCTAssertEqual(info.totalBytes, 10)
        XCTAssertEqual(try f.store.purge(a), 2)
        XCTAssertEqual(try f.store.mailboxInfo(a).messageCount, 0)
        XCTAssertEqual(try f.store.lockState(a), .free, "purge gives its admin lock back")
    }

    // A node that knows a mailbox's directory (the NFS volume caches its handle) follows another node removing the
    // mailbox and adding it again: the new directory, its password and its mail, never the old ones.
    func testMailboxRemovedAndAddedAgainByAnotherNodeIsFollowed() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice", password: "old")
        let other = try MailStore.open(volume: try f.anotherVolume(), guid: f.guid)
        _ = try other.deliver(to: a, message: Array("old mail\n".utf8), enforceQuota: false)
        let s = try other.openSession(a, node: "n2", session: "s1")
        XCTAssertEqual(s.messages.count, 1)
        try s.release()
        let oldRecord = try other.passwordRecord(a)

        try f.store.removeMailbox(a)
        XCTAssertThrowsError(try other.openSession(a, node: "n2", session: "s2")) {
            XCTAssertEqual(($0 as? StoreError)?.code, .notFound, "\($0)")
        }
        try f.store.createMailbox(a, password: "new", allowAPOP: false, quota: nil)
        XCTAssertNotEqual(try other.passwordRecord(a), oldRecord)
        _ = try f.store.deliver(to: a, message: Array("new mail\n".utf8), enforceQuota: false)
        let again = try other.openSession(a, node: "n2", session: "s3")
        XCTAssertEqual(again.messages.count, 1)
        let text = try other.volume.readAll(try StorePath(["example.test", "P3_alice.mbx", again.messages[0].fileName]), limit: 1000)
        XCTAssertTrue(String(decoding: text, as: UTF8.self).hasPrefix("new mail"))
        try again.release()

        // The whole domain too.
        try f.store.removeDomain("example.test", purge: true)
        try f.store.addDomain("example.test")
        XCTAssertThrowsError(try other.passwordRecord(a)) { XCTAssertEqual(($0 as? StoreError)?.code, .notFound, "\($0)") }
        _ = try f.mailbox("alice", password: "third")
        XCTAssertNoThrow(try other.openSession(a, node: "n2", session: "s4").release())
        // A mailbox the other node never saw, in a domain made again: only the domain's old handle is known there.
        try f.store.removeDomain("example.test", purge: true)
        try f.store.addDomain("example.test")
        let bob = try f.mailbox("bob")
        XCTAssertNoThrow(try other.openSession(bob, node: "n2", session: "s5").release())
    }

    func testReadAllLimit() throws {
        let f = try StoreFixture(domain: nil)
        let p = try StorePath(["big"])
        try f.volume.writeFile(p, Array(repeating: 1, count: 100), exclusive: true)
        XCTAssertEqual(try f.volume.readAll(p, limit: 100).count, 100)
        XCTAssertThrowsError(try f.volume.readAll(p, limit: 99)) { XCTAssertEqual(($0 as? StoreError)?.code, .tooLarge) }
        XCTAssertThrowsError(try f.volume.createFile(p, exclusive: true)) { XCTAssertEqual(($0 as? StoreError)?.code, .alreadyExists) }
        XCTAssertThrowsError(try f.volume.mkdir(try StorePath([".poplar"]))) { XCTAssertEqual(($0 as? StoreError)?.code, .alreadyExists) }
        XCTAssertThrowsError(try f.volume.stat(try StorePath(["absent"]))) { XCTAssertEqual(($0 as? StoreError)?.code, .notFound) }
    }

    func testPrivateLockName() {
        let record = OwnerRecord(kind: .session, node: "Node_1.Example/" + String(repeating: "x", count: 40), session: "s", since: Date())
        let name = MailStore.privateName(for: record)
        let parts = name.split(separator: ".")
        XCTAssertEqual(parts.count, 3)
        XCTAssertEqual(parts[0], "kcol")
        XCTAssertEqual(parts[1], "node1example" + String(repeating: "x", count: 20), "[a-z0-9-], at most 32")
        XCTAssertEqual(parts[2].count, 16)
        XCTAssertTrue(parts[2].allSatisfy(\.isHexDigit))
        XCTAssertNil(MailStore.instance(ofPrivateName: name))
        // A holder guarded by a node instance (the node rule) carries the instance in its private name.
        var guarded = record
        guarded.live = "0123456789abcdef"
        let named = MailStore.privateName(for: guarded)
        XCTAssertEqual(named.split(separator: ".").count, 4)
        XCTAssertEqual(MailStore.instance(ofPrivateName: named), "0123456789abcdef")
        XCTAssertEqual(named.split(separator: ".")[1], parts[1])
        XCTAssertNil(MailStore.instance(ofPrivateName: "kcol.node.0123456789ABCDEF.0123456789abcdef"), "not an instance id")
    }

    // The names at each step of `take`, as another node would see them.
    func testLockStateAtEachStep() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        let dir = try StorePath(["example.test", "P3_alice.mbx"])
        let claim = try dir.appending("kcol.n1.0123456789abcdef")
        XCTAssertEqual(try f.store.lockState(a), .free)
        // The free lock still holds the last holder's record (R0 leaves it): a claim names the claiming node, not it.
        try f.volume.writeFile(try dir.appending("lock"), OwnerRecord(kind: .admin, node: "old", session: "x", since: Date()).encoded(), exclusive: false)
        try f.volume.rename(try dir.appending("lock"), to: claim)
        guard case .claiming(let taker?) = try f.store.lockState(a) else { return XCTFail("not claiming") }
        XCTAssertEqual(taker.node, "n1", "claimed, record not written yet")
        XCTAssertEqual(taker.kind, .session)
        let record = OwnerRecord(kind: .session, node: "n1", session: "s1", since: Date())
        try f.volume.writeFile(claim, record.encoded(), exclusive: false)
        XCTAssertEqual(try f.store.lockState(a), .claiming(record))
        XCTAssertThrowsError(try f.store.openSession(a, node: "n2", session: "s2")) { e in
            XCTAssertEqual(e as? LockRefusal, .inUse(record))
        }
        try f.volume.rename(claim, to: try dir.appending("kcol"))
        XCTAssertEqual(try f.store.lockState(a), .session(record))
        XCTAssertEqual(try f.store.mailboxInfo(a).lock, .session(record))
        XCTAssertThrowsError(try f.store.removeMailbox(a)) { e in
            XCTAssertEqual(e as? LockRefusal, .inUse(record))
        }
        XCTAssertTrue(try f.store.mailboxExists(a), "refused removal leaves the mailbox whole")
        XCTAssertEqual(try f.store.lockState(a), .session(record))
    }

    // A session that released and whose mailbox another session then took never touches the new lock.
    func testReleasedSessionCannotCommitOrFreeTheNextHolder() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        let m = try f.store.deliver(to: a, message: Array("x\n".utf8), enforceQuota: false)
        let first = try f.store.openSession(a, node: "n1", session: "first")
        try first.release()
        let second = try f.store.openSession(a, node: "n2", session: "second")
        XCTAssertThrowsError(try first.commit(deleting: [m])) { XCTAssertEqual(($0 as? StoreError)?.code, .inUse) }
        try first.release()
        XCTAssertEqual(try f.store.lockState(a), .session(second.owner))
        XCTAssertEqual(try f.store.mailboxInfo(a).messageCount, 1)
        try second.commit(deleting: [m])
        XCTAssertEqual(try f.store.mailboxInfo(a).messageCount, 0)
        try second.commit(deleting: [m])  // already gone is fine
        try second.release()
        XCTAssertEqual(try f.store.lockState(a), .free)
    }

    func testMessageFilesInSnapshotOnly() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        let m = try f.store.deliver(to: a, message: Array("x\n".utf8), enforceQuota: false)
        let dir = f.path + "/example.test/P3_alice.mbx/"
        for stray in ["P3_123.eml", "notes.txt", "P3_\(m.uidl).eml.bak"] {
            _ = FileManager.default.createFile(atPath: dir + stray, contents: Data("junk".utf8))
        }
        let s = try f.store.openSession(a, node: "n", session: "s")
        defer { try? s.release() }
        XCTAssertEqual(s.messages, [m])
        let h = try s.openMessage(m)
        defer { h.close() }
        XCTAssertEqual(try h.read(at: 0, count: 100), Array("x\r\n".utf8))
        XCTAssertEqual(try h.read(at: 3, count: 100), [])
    }
}
