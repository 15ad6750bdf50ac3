import Foundation
import XCTest

@testable import SharedStore

final class MailStoreTests: XCTestCase {
    func testInitOpenAndWrongGUID() throws {
        let f = try StoreFixture()
        XCTAssertNoThrow(try MailStore.open(volume: f.volume, guid: f.guid))
        XCTAssertThrowsError(try MailStore.open(volume: f.volume, guid: .generate())) { e in
            XCTAssertEqual((e as? StoreError)?.code, .wrongGUID)
            XCTAssertTrue("\(e)".contains("GUID"), "\(e)")
        }
        XCTAssertThrowsError(try MailStore.initialize(volume: f.volume, guid: f.guid)) { e in
            XCTAssertEqual((e as? StoreError)?.code, .alreadyExists)
        }
        let empty = NSTemporaryDirectory() + "poplar-empty-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: empty) }
        XCTAssertThrowsError(try MailStore.open(volume: try POSIXVolume(rootPath: empty), guid: f.guid)) { e in
            XCTAssertEqual((e as? StoreError)?.code, .notInitialized)
        }
        XCTAssertThrowsError(try POSIXVolume(rootPath: empty + "/missing")) { e in
            XCTAssertEqual((e as? StoreError)?.code, .notFound)
        }
        XCTAssertEqual(f.files(".poplar"), ["cluster", "domains", "lease-metabase", "slots", "tmp"], "the fixture added a domain")
        let cluster = try String(contentsOfFile: f.path + "/.poplar/cluster", encoding: .utf8)
        XCTAssertFalse(cluster.contains(f.guid.text), "the GUID itself is never in the store")
    }

    func testGUIDFile() throws {
        let dir = NSTemporaryDirectory() + "poplar-guid-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/guid"
        let (g1, created) = try ClusterGUID.loadOrCreate(file: path)
        XCTAssertTrue(created)
        let (g2, again) = try ClusterGUID.loadOrCreate(file: path)
        XCTAssertFalse(again)
        XCTAssertEqual(g1, g2)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)
        XCTAssertThrowsError(try ClusterGUID(text: "not hex"))
        XCTAssertThrowsError(try ClusterGUID(text: "abcd"))
        XCTAssertThrowsError(try ClusterGUID.load(fromFile: dir + "/absent"))
    }

    func testMetabase() throws {
        let f = try StoreFixture(domain: nil)
        XCTAssertEqual(try f.store.domains(), [])
        let v0 = try f.store.metabaseVersion()
        try f.store.addDomain("B.test")
        try f.store.addDomain("a.test")
        XCTAssertEqual(try f.store.domains(), ["a.test", "b.test"])
        XCTAssertEqual(try f.store.metabaseVersion(), v0 + 2)
        XCTAssertThrowsError(try f.store.addDomain("a.test"))
        XCTAssertThrowsError(try f.store.addDomain("../etc"))
        let a = try MailboxAddress(mailbox: "x", domain: "a.test")
        try f.store.createMailbox(a, password: "pw", allowAPOP: false, quota: nil)
        _ = try f.store.deliver(to: a, message: Array("m\r\n".utf8), enforceQuota: false)
        try f.store.removeDomain("a.test", purge: false)
        XCTAssertFalse(try f.store.isDomainAccepted("a.test"))
        XCTAssertEqual(try f.store.mailboxInfo(a).messageCount, 1, "mail kept unless --purge")
        try f.store.addDomain("a.test")
        try f.store.removeDomain("a.test", purge: true)
        XCTAssertFalse(FileManager.default.fileExists(atPath: f.path + "/a.test"))
        XCTAssertThrowsError(try f.store.removeDomain("a.test", purge: false))
        XCTAssertEqual(f.files(".poplar/tmp"), [], "atomic replacement leaves nothing behind")
    }

    func testMailboxLifecycle() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice", quota: 1000)
        XCTAssertThrowsError(try f.mailbox("alice")) { XCTAssertEqual(($0 as? StoreError)?.code, .alreadyExists) }
        XCTAssertThrowsError(try f.store.createMailbox(try MailboxAddress(mailbox: "x", domain: "other.test"), password: "p", allowAPOP: false, quota: nil))
        XCTAssertEqual(f.files("example.test/P3_alice.mbx"), ["lock", "passwd", "quota", "scram", "tmp"])
        XCTAssertEqual(try f.store.mailboxes(in: "example.test"), [a])
        var info = try f.store.mailboxInfo(a)
        XCTAssertEqual(info.quota, 1000)
        XCTAssertEqual(info.lock, .free)
        XCTAssertFalse(info.allowsAPOP)
        try f.store.setQuota(a, nil)
        info = try f.store.mailboxInfo(a)
        XCTAssertNil(info.quota)
        try f.store.removeMailbox(a)
        XCTAssertEqual(try f.store.mailboxes(in: "example.test"), [])
        XCTAssertThrowsError(try f.store.mailboxInfo(a))
    }

    func testPasswords() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice", password: "correct horse", apop: true)
        let record = try f.store.passwordRecord(a)
        XCTAssertTrue(record.phc.hasPrefix("$pbkdf2-sha256$i=1000$"))
        XCTAssertFalse(String(decoding: record.encoded(), as: UTF8.self).contains("correct horse"))
        XCTAssertTrue(PasswordHasher.verify(password: Array("correct horse".utf8), record: record, guid: f.guid))
        XCTAssertFalse(PasswordHasher.verify(password: Array("wrong".utf8), record: record, guid: f.guid))
        XCTAssertFalse(PasswordHasher.verify(password: Array("correct horse".utf8), record: record, guid: .generate()), "keyed by the GUID")
        XCTAssertEqual(try PasswordHasher.openSecret(record: record, address: a, guid: f.guid), Array("correct horse".utf8))
        XCTAssertThrowsError(try PasswordHasher.openSecret(record: record, address: a, guid: .generate()))
        XCTAssertThrowsError(try PasswordHasher.openSecret(record: record, address: try MailboxAddress(parsing: "bob@example.test"), guid: f.guid),
                             "bound to its mailbox")
        try f.store.setPassword(a, password: "new", allowAPOP: false)
        let changed = try f.store.passwordRecord(a)
        XCTAssertFalse(changed.allowsAPOP)
        XCTAssertNil(try PasswordHasher.openSecret(record: changed, address: a, guid: f.guid))
        XCTAssertTrue(PasswordHasher.verify(password: Array("new".utf8), record: changed, guid: f.guid))
        XCTAssertFalse(PasswordHasher.verify(password: [], record: PasswordRecord(phc: "$garbage", sealedSecret: nil), guid: f.guid))
    }

    func testProductionRoundsAreTheDefault() throws {
        XCTAssertEqual(PasswordHasher.defaultRounds, 210_000)
        let a = try MailboxAddress(parsing: "a@b.c")
        let record = try PasswordHasher.makeRecord(password: "pw", address: a, guid: .generate(), rounds: PasswordHasher.defaultRounds, allowAPOP: false)
        XCTAssertTrue(record.phc.hasPrefix("$pbkdf2-sha256$i=210000$"))
    }
}

/// Mailboxes whose account lives in a directory (`mailbox add --external`): no password record, a marker instead;
/// they exist for delivery and lookups like any other.
final class ExternalMailboxTests: XCTestCase {
    func testExternalMailboxExistsTakesMailAndHasNoPassword() throws {
        let f = try StoreFixture()
        let address = try MailboxAddress(mailbox: "ext", domain: "example.test")
        try f.store.createMailbox(address, password: nil, allowAPOP: false, quota: nil)
        XCTAssertTrue(try f.store.mailboxExists(address))
        XCTAssertFalse(try f.store.mailboxInfo(address).hasPassword)
        _ = try f.store.deliver(to: address, message: Array("Subject: x\r\n\r\nbody\r\n".utf8), enforceQuota: true)
        XCTAssertEqual(try f.store.mailboxInfo(address).messageCount, 1)
        try f.store.setQuota(address, 1000)
        XCTAssertThrowsError(try f.store.setPassword(address, password: "pw", allowAPOP: false)) { error in
            XCTAssertTrue("\(error)".contains("external mailbox"), "\(error)")
        }
        XCTAssertThrowsError(try f.store.passwordRecord(address))
        XCTAssertFalse(try f.store.mailboxExists(try MailboxAddress(mailbox: "none", domain: "example.test")))
    }
}
