import Foundation
import XCTest

@testable import SharedStore

/// Rotating the cluster GUID: the GUID file's keyring, the cluster file's current and previous GUID, records of
/// either opening during the rotation, re-keying with and without a password, and the end of the rotation.
final class GUIDRotationTests: XCTestCase {
    func testKeyringFile() throws {
        let dir = NSTemporaryDirectory() + "poplar-keyring-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = ClusterGUID.generate(), b = ClusterGUID.generate()
        try ClusterKeyring([a, b]).write(toFile: dir + "/guid")
        XCTAssertEqual(try ClusterKeyring.load(fromFile: dir + "/guid"), ClusterKeyring([a, b]))
        XCTAssertEqual(try ClusterGUID.load(fromFile: dir + "/guid"), a)
        let mode = try FileManager.default.attributesOfItem(atPath: dir + "/guid")[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)
        XCTAssertThrowsError(try ClusterKeyring(text: ""))
        XCTAssertThrowsError(try ClusterKeyring(text: "zz"))
        XCTAssertThrowsError(try ClusterKeyring(text: (0..<5).map { _ in ClusterGUID.generate().text }.joined(separator: "\n")))
        XCTAssertNotEqual(a.tag, b.tag)
        XCTAssertEqual(a.tag.count, 16)
    }

    func testARotationFromStartToFinish() throws {
        let f = try StoreFixture()
        let old = f.guid, new = ClusterGUID.generate()
        let alice = try f.mailbox("alice", password: "alice-pw", apop: true)
        let bob = try f.mailbox("bob", password: "bob-pw")
        // A record written before rotation existed has no key tag.
        let carol = try f.mailbox("carol", password: "carol-pw")
        var legacy = try f.store.passwordRecord(carol)
        legacy.keyTag = nil
        try f.volume.writeAtomically(try StorePath(["example.test", "P3_carol.mbx", "passwd"]), legacy.encoded(),
                                     staging: try StorePath(["example.test", "P3_carol.mbx", "tmp"]))
        XCTAssertNil(try f.store.passwordRecord(carol).keyTag)
        XCTAssertEqual(try f.store.passwordRecord(alice).keyTag, old.tag)

        // Step 1: a process with both GUIDs opens the root; the old one still keys new records.
        let both = try MailStore.open(volume: try f.anotherVolume(), keyring: ClusterKeyring([old, new]))
        XCTAssertEqual(both.guid, old)
        XCTAssertNil(both.previousGUID)
        // Step 2.
        XCTAssertThrowsError(try f.store.activateGUID(new), "a process without the new GUID cannot activate it")
        try both.activateGUID(new)
        XCTAssertEqual(both.guid, new)
        XCTAssertEqual(both.previousGUID, old)
        XCTAssertThrowsError(try MailStore.open(volume: try f.anotherVolume(), guid: old), "the old GUID alone no longer opens the root")
        XCTAssertThrowsError(try MailStore.open(volume: try f.anotherVolume(), guid: new), "nor the new one alone, while records need the old")
        XCTAssertThrowsError(try both.activateGUID(new))
        // Old records still open; the legacy record is read as keyed by the previous GUID.
        for (address, password) in [(alice, "alice-pw"), (bob, "bob-pw"), (carol, "carol-pw")] {
            let record = try both.passwordRecord(address)
            XCTAssertEqual(both.guid(for: record), old)
            XCTAssertTrue(PasswordHasher.verify(password: Array(password.utf8), record: record, guid: old))
            XCTAssertTrue(both.needsRehash(record))
        }
        var usage = try both.guidUsage()
        XCTAssertEqual(usage.rekeyable, [alice])
        XCTAssertEqual(Set(usage.needLogin), [bob, carol])
        // Step 3: alice from her sealed secret, bob at his login (the rehash a login does).
        XCTAssertTrue(try both.rekey(alice))
        XCTAssertFalse(try both.rekey(bob), "no sealed secret: needs the password")
        XCTAssertTrue(try both.rehash(bob, password: "bob-pw", verified: try both.passwordRecord(bob)))
        for (address, password) in [(alice, "alice-pw"), (bob, "bob-pw")] {
            let record = try both.passwordRecord(address)
            XCTAssertEqual(record.keyTag, new.tag)
            XCTAssertTrue(PasswordHasher.verify(password: Array(password.utf8), record: record, guid: new))
            XCTAssertNotNil(try both.scramSecret(address), "SCRAM keys re-sealed with the new GUID")
        }
        XCTAssertEqual(try PasswordHasher.openSecret(record: try both.passwordRecord(alice), address: alice, guid: new), Array("alice-pw".utf8))
        usage = try both.guidUsage()
        XCTAssertEqual(usage.onCurrent, 2)
        XCTAssertEqual(usage.needLogin, [carol])
        // Step 4.
        try both.finishGUIDRotation()
        XCTAssertNil(both.previousGUID)
        let newOnly = try MailStore.open(volume: try f.anotherVolume(), guid: new)
        XCTAssertEqual(newOnly.guid(for: try newOnly.passwordRecord(carol)), new, "an untagged record is now read with the new GUID")
        XCTAssertFalse(PasswordHasher.verify(password: Array("carol-pw".utf8), record: try newOnly.passwordRecord(carol), guid: new),
                       "and no longer opens: carol needs a new password")
        XCTAssertThrowsError(try MailStore.open(volume: try f.anotherVolume(), guid: old))
        XCTAssertThrowsError(try newOnly.finishGUIDRotation())
    }
}
