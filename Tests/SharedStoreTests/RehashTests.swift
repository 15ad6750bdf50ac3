import Foundation
import XCTest

@testable import SharedStore

/// KDF rounds changed without downtime: the cluster file rewritten, records rehashed from a verified password, and
/// never over a password changed at the same moment.
final class RehashTests: XCTestCase {
    func testKDFRoundsChangeAndOtherProcessesFollow() throws {
        let f = try StoreFixture()
        XCTAssertEqual(f.store.currentKDFRounds, 1000)
        try f.store.setKDFRounds(2000)
        let other = try MailStore.open(volume: try f.anotherVolume(), guid: f.guid)
        XCTAssertEqual(other.currentKDFRounds, 2000)
        try f.store.setKDFRounds(3000)
        XCTAssertEqual(other.currentKDFRounds, 2000)
        XCTAssertEqual(try other.refreshClusterInfo().kdfRounds, 3000)
        XCTAssertEqual(other.currentKDFRounds, 3000)
        XCTAssertThrowsError(try f.store.setKDFRounds(0))
        let text = try String(contentsOfFile: f.path + "/.poplar/cluster", encoding: .utf8)
        XCTAssertTrue(text.contains("kdf-rounds=3000\n") && text.contains("guid-check="), text)
    }

    func testOlderRecordRehashedWithKeysAndSecret() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice", password: "pw", apop: true)
        let old = try f.store.passwordRecord(a)
        XCTAssertFalse(f.store.needsRehash(old))
        try f.store.setKDFRounds(1500)
        XCTAssertTrue(f.store.needsRehash(old))
        XCTAssertTrue(try f.store.rehash(a, password: "pw", verified: old))
        let new = try f.store.passwordRecord(a)
        XCTAssertEqual(PasswordHasher.parse(new.phc)?.rounds, 1500)
        XCTAssertTrue(PasswordHasher.verify(password: Array("pw".utf8), record: new, guid: f.guid))
        XCTAssertTrue(new.allowsAPOP, "the APOP secret is kept")
        XCTAssertEqual(try PasswordHasher.openSecret(record: new, address: a, guid: f.guid), Array("pw".utf8))
        XCTAssertNotNil(try f.store.scramSecret(a), "SCRAM keys follow the new record (they are bound to it)")
        XCTAssertFalse(f.store.needsRehash(new))
        // Lowering the cluster's rounds does not rewrite stronger records.
        try f.store.setKDFRounds(1200)
        XCTAssertFalse(f.store.needsRehash(new))
        XCTAssertEqual(f.files("example.test/P3_alice.mbx/tmp"), [], "nothing left in tmp")
    }

    // `mailbox passwd` between the login's read and its rehash: the administrator's password stays.
    func testAPasswordChangedMeanwhileIsNeverOverwritten() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice", password: "old")
        let verified = try f.store.passwordRecord(a)
        try f.store.setKDFRounds(1500)
        try f.store.setPassword(a, password: "new", allowAPOP: false)
        XCTAssertFalse(try f.store.rehash(a, password: "old", verified: verified))
        let current = try f.store.passwordRecord(a)
        XCTAssertTrue(PasswordHasher.verify(password: Array("new".utf8), record: current, guid: f.guid))
        XCTAssertFalse(PasswordHasher.verify(password: Array("old".utf8), record: current, guid: f.guid))
        XCTAssertEqual(f.files("example.test/P3_alice.mbx/tmp"), [])
    }
}
