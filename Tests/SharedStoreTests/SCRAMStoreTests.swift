import Foundation
import XCTest

@testable import SharedStore

/// The SCRAM-SHA-256 keys in the store (RFC 5802 §3, RFC 7677): derived as the RFC says, written with every
/// password, sealed by the GUID, bound to the password record they were made with; SASLprep (RFC 4013).
final class SCRAMStoreTests: XCTestCase {
    // RFC 7677 §3's account: password "pencil", this salt, 4096 iterations (keys computed with Python's hashlib).
    func testDerivationMatchesRFC7677() throws {
        let salt = Array(Data(base64Encoded: "W22ZaJ0SNY7soEsUEjb6gQ==")!)
        let secret = try XCTUnwrap(try SCRAMSecret.derive(password: "pencil", salt: salt, iterations: 4096))
        XCTAssertEqual(Data(secret.storedKey).base64EncodedString(), Data(hex("586e5df283e6dceb5c3e791d8b8528ec191e664045ce971792e2e6b5bb13e2a6")).base64EncodedString())
        XCTAssertEqual(Data(secret.serverKey).base64EncodedString(), Data(hex("c1f3cbc1c13a9d35a14c0990eed97629ea225863e566a4314ab99f3f00e5d9d5")).base64EncodedString())
    }

    func testMailboxAddWritesSealedKeys() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice", password: "pencil")
        let secret = try XCTUnwrap(try f.store.scramSecret(a))
        // RFC 7677 §4: at least 4096 iterations even where the root's PBKDF2 count is lower (the fixture uses 1000).
        XCTAssertEqual(secret.iterations, SCRAMSecret.minimumIterations)
        XCTAssertEqual(try SCRAMSecret.derive(password: "pencil", salt: secret.salt, iterations: secret.iterations), secret)
        // On disk: sealed, so neither key nor salt is readable without the GUID.
        let file = try String(contentsOfFile: f.path + "/example.test/P3_alice.mbx/scram", encoding: .utf8)
        XCTAssertTrue(file.hasPrefix("scram="))
        XCTAssertFalse(file.contains(Data(secret.storedKey).base64EncodedString()))
        XCTAssertFalse(file.contains(Data(secret.salt).base64EncodedString()))
    }

    func testNewPasswordNewKeysAndOldKeysNoLongerOpen() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice", password: "old")
        let oldFile = try Data(contentsOf: URL(fileURLWithPath: f.path + "/example.test/P3_alice.mbx/scram"))
        try f.store.setPassword(a, password: "new", allowAPOP: false)
        let secret = try XCTUnwrap(try f.store.scramSecret(a))
        XCTAssertEqual(try SCRAMSecret.derive(password: "new", salt: secret.salt, iterations: secret.iterations), secret)
        // A login's late write of keys for the old password (racing `passwd`) leaves keys bound to the old record.
        try f.volume.writeAtomically(try StorePath(["example.test", "P3_alice.mbx", "scram"]), Array(oldFile),
                                     staging: try StorePath(["example.test", "P3_alice.mbx", "tmp"]))
        XCTAssertNil(try f.store.scramSecret(a))
    }

    func testKeysAddedAfterAPasswordLoginWhenMissing() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice", password: "pw")
        // Through the store's volume: under NFS a removal behind the client's back is not seen at once.
        try f.volume.unlink(try StorePath(["example.test", "P3_alice.mbx", "scram"]))
        XCTAssertNil(try f.store.scramSecret(a))
        let record = try f.store.passwordRecord(a)
        XCTAssertTrue(try f.store.addSCRAMIfMissing(a, password: "pw", record: record))
        XCTAssertFalse(try f.store.addSCRAMIfMissing(a, password: "pw", record: record))
        let secret = try XCTUnwrap(try f.store.scramSecret(a))
        XCTAssertEqual(try SCRAMSecret.derive(password: "pw", salt: secret.salt, iterations: secret.iterations), secret)
    }

    func testAnotherGUIDOpensNothing() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice", password: "pw")
        let record = try f.store.passwordRecord(a)
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: f.path + "/example.test/P3_alice.mbx/scram")))
        XCTAssertNotNil(SCRAMSecret.decode(bytes, address: a, phc: record.phc, guid: f.guid))
        XCTAssertNil(SCRAMSecret.decode(bytes, address: a, phc: record.phc, guid: ClusterGUID.generate()))
        // Bound to the address too: the file copied into another mailbox does not open there.
        XCTAssertNil(SCRAMSecret.decode(bytes, address: try MailboxAddress(mailbox: "bob", domain: "example.test"), phc: record.phc, guid: f.guid))
        XCTAssertNil(SCRAMSecret.decode(Array("scram=AAAA\n".utf8), address: a, phc: record.phc, guid: f.guid))
    }

    func testExternalAndMissingMailboxesHaveNoKeys() throws {
        let f = try StoreFixture()
        let ext = try MailboxAddress(mailbox: "dir", domain: "example.test")
        try f.store.createMailbox(ext, password: nil, allowAPOP: false, quota: nil)
        XCTAssertNil(try f.store.scramSecret(ext))
        XCTAssertNil(try f.store.scramSecret(try MailboxAddress(mailbox: "nobody", domain: "example.test")))
    }

    // Decoys: the same salt on every call and every node for one name (so that asking twice tells nothing), other
    // salts for other names, the cluster's count.
    func testDecoysAreStablePerName() {
        let guid = ClusterGUID.generate()
        let a = SCRAMSecret.decoy(user: "nobody@example.test", guid: guid, iterations: 210_000)
        let b = SCRAMSecret.decoy(user: "nobody@example.test", guid: guid, iterations: 210_000)
        XCTAssertEqual(a.salt, b.salt)
        XCTAssertEqual(a.iterations, 210_000)
        XCTAssertNotEqual(a.storedKey, b.storedKey)
        XCTAssertNotEqual(SCRAMSecret.decoy(user: "other@example.test", guid: guid, iterations: 1).salt, a.salt)
        XCTAssertEqual(SCRAMSecret.decoy(user: "x", guid: guid, iterations: 1).iterations, SCRAMSecret.minimumIterations)
    }

    // RFC 4013 §3's examples (but the bidirectional one, which is not implemented: docs/security.md).
    func testSASLprep() {
        XCTAssertEqual(SASLprep.prepare("I\u{00AD}X"), "IX")
        XCTAssertEqual(SASLprep.prepare("user"), "user")
        XCTAssertEqual(SASLprep.prepare("USER"), "USER")
        XCTAssertEqual(SASLprep.prepare("\u{00AA}"), "a")
        XCTAssertEqual(SASLprep.prepare("\u{2168}"), "IX")
        XCTAssertNil(SASLprep.prepare("\u{0007}"))
        XCTAssertEqual(SASLprep.prepare("a\u{00A0}b"), "a b")
        XCTAssertNil(SASLprep.prepare("a\u{E000}"))
        XCTAssertNil(SASLprep.prepare("a\u{FFFF}"))
        XCTAssertEqual(SASLprep.prepare("pässwörd"), "pässwörd")
        // A password SASLprep refuses gets no keys (a SCRAM client could not send it either).
        XCTAssertNil(try SCRAMSecret.make(password: "bell\u{0007}", iterations: 4096))
    }

    func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var it = s.makeIterator()
        while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
        return out
    }
}
