import Foundation
import XCTest

@testable import SharedStore

/// `poplar import` in the store (issue 16 item 1): a message keeps the UIDL another server gave it, in its file name;
/// listing stays arrival order; a second import brings only what is new; sessions, deletion, quota and fsck keep
/// working. Runs on a local root and over NFS (StoreFixture).
final class ImportTests: XCTestCase {
    func item(_ uidl: String, _ text: String) -> ImportItem {
        ImportItem(label: "test \(uidl)", uidl: uidl) { Array(text.utf8) }
    }

    // MARK: Names

    func testKeptUIDLNamesRoundTripAndRefuseWhatIsNotOne() throws {
        let stamp = "20261205120000000123450001"
        for uidl in ["00000001506c4b1e", "a", "UID.with:odd~chars!", String(repeating: "~", count: 70), "%^&*()_+{}|\"<>?"] {
            let name = MessageNamer.messageName(stamp: stamp, keptUIDL: uidl)
            XCTAssertTrue(MessageNamer.isMessageName(name), name)
            XCTAssertEqual(MessageNamer.uidl(ofMessageName: name), uidl)
            XCTAssertEqual(MessageNamer.keptUIDL(ofMessageName: name), uidl)
            XCTAssertEqual(MessageNamer.stamp(ofMessageName: name), stamp)
            XCTAssertLessThan(name.utf8.count, 255)
            XCTAssertEqual(name.dropFirst(3), name.dropFirst(3).lowercased()[...], "one name on case-insensitive copies too")
        }
        let plain = MessageNamer.messageName(stamp: stamp)
        XCTAssertEqual(plain, "P3_\(stamp).eml")
        XCTAssertEqual(MessageNamer.uidl(ofMessageName: plain), stamp)
        XCTAssertNil(MessageNamer.keptUIDL(ofMessageName: plain))
        for bad in ["P3_\(stamp).u.eml", "P3_\(stamp).u6.eml", "P3_\(stamp).u6G.eml", "P3_\(stamp).u4A.eml",
                    "P3_\(stamp).u20.eml", "P3_\(stamp).u7f.eml", "P3_\(stamp).u61", "P3_\(stamp).x61.eml",
                    "P3_\(stamp.dropLast()).u61.eml", "P3_\(stamp).u" + String(repeating: "61", count: 71) + ".eml",
                    "P3_\(stamp).u61.eml.tmp"] {
            XCTAssertFalse(MessageNamer.isMessageName(bad), bad)
        }
        for bad in ["", String(repeating: "x", count: 71), "has space", "tab\t", "caf\u{e9}"] {
            XCTAssertFalse(MessageNamer.isValidUIDL(bad), bad)
        }
    }

    // MARK: Importing

    func testImportedMessagesKeepTheirUIDLsInArrivalOrder() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        let native1 = try f.store.deliver(to: a, message: Array("Subject: one\n\nx\n".utf8), enforceQuota: true)
        // UIDLs that sort before and after the digits: the order must still be arrival.
        let s1 = try f.store.importMessages([item("zzz-last-by-name", "Subject: two\n\ny\n"), item("000", "Subject: three\r\n\r\nz\r\n")], to: a)
        XCTAssertEqual(s1.messages, 2)
        XCTAssertEqual(s1.skipped, 0)
        XCTAssertEqual(s1.errors, [])
        let native2 = try f.store.deliver(to: a, message: Array("Subject: four\n\nw\n".utf8), enforceQuota: true)
        let listed = try f.store.messages(of: a)
        XCTAssertEqual(listed.map(\.uidl), [native1.uidl, "zzz-last-by-name", "000", native2.uidl])
        // CRLF in the store, size is the octet count.
        let stored = try Data(contentsOf: URL(fileURLWithPath: "\(f.path)/example.test/P3_alice.mbx/\(listed[1].fileName)"))
        XCTAssertEqual(String(decoding: stored, as: UTF8.self), "Subject: two\r\n\r\ny\r\n")
        XCTAssertEqual(listed[1].size, Int64(stored.count))
        XCTAssertEqual(s1.bytes, listed[1].size + listed[2].size)
        XCTAssertEqual(f.files("example.test/P3_alice.mbx/tmp"), [])
    }

    func testASecondImportBringsOnlyWhatIsNew() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        let loads = Collector<String>()
        func counted(_ uidl: String) -> ImportItem {
            ImportItem(label: uidl, uidl: uidl) {
                loads.add(uidl)
                return Array("Subject: \(uidl)\n\nbody\n".utf8)
            }
        }
        let first = try f.store.importMessages(["u1", "u2", "u3"].map(counted), to: a)
        XCTAssertEqual(first.messages, 3)
        var steps: [Int] = []
        let second = try f.store.importMessages(["u1", "u2", "u3", "u4"].map(counted), to: a) { steps.append($0.done) }
        XCTAssertEqual(second.messages, 1)
        XCTAssertEqual(second.skipped, 3)
        XCTAssertEqual(steps, [1, 2, 3, 4])
        XCTAssertEqual(loads.all, ["u1", "u2", "u3", "u4"], "a message already present is not read again")
        XCTAssertEqual(try f.store.messages(of: a).map(\.uidl), ["u1", "u2", "u3", "u4"])
    }

    func testBadInputIsAnErrorAndTheRestIsImported() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        struct Unreadable: Error {}
        let summary = try f.store.importMessages([
            item("has space", "x"),
            item("ok1", "Subject: a\n\n"),
            item("ok1", "Subject: same UIDL again\n\n"),
            ImportItem(label: "gone", uidl: "gone") { throw Unreadable() },
            item(String(repeating: "u", count: 71), "x"),
            item("ok2", "Subject: b\n\n"),
        ], to: a)
        XCTAssertEqual(summary.messages, 2)
        XCTAssertEqual(summary.errors.map(\.label), ["test has space", "test ok1", "gone", "test " + String(repeating: "u", count: 71)])
        XCTAssertEqual(try f.store.messages(of: a).map(\.uidl), ["ok1", "ok2"])
        XCTAssertThrowsError(try f.store.beginDelivery(to: a, keptUIDL: "bad uidl"))
        XCTAssertThrowsError(try f.store.importMessages([item("x", "y")], to: try MailboxAddress(mailbox: "nobody", domain: "example.test")))
        XCTAssertEqual(f.files("example.test/P3_alice.mbx/tmp"), [])
    }

    func testALostSourceStopsTheMailboxAndTheNextRunGoesOn() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        let lost = ImportItem(label: "third", uidl: "u3") { throw ImportSourceLost("connection reset") }
        let first = try f.store.importMessages([item("u1", "a"), item("u2", "b"), lost, item("u4", "d")], to: a)
        XCTAssertEqual(first.messages, 2)
        XCTAssertEqual(first.stopped, .sourceLost("connection reset"))
        XCTAssertEqual(try f.store.messages(of: a).map(\.uidl), ["u1", "u2"], "nothing after the loss")
        let second = try f.store.importMessages([item("u1", "a"), item("u2", "b"), item("u3", "c"), item("u4", "d")], to: a)
        XCTAssertEqual(second.messages, 2)
        XCTAssertEqual(second.skipped, 2)
        XCTAssertNil(second.stopped)
    }

    func testALargeMessageIsWrittenInSlicesWithLineEndsIntactAcrossThem() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        // LF exactly at the slice boundaries, and a CR just before one: the CRLF conversion carries across writes.
        var body = [UInt8](repeating: 0x61, count: 3 * MailStore.importWriteSlice + 10)
        body[MailStore.importWriteSlice - 1] = 0x0D
        body[MailStore.importWriteSlice] = 0x0A
        body[2 * MailStore.importWriteSlice] = 0x0A
        let bytes = body
        let summary = try f.store.importMessages([ImportItem(label: "big", uidl: "big") { bytes }], to: a)
        XCTAssertEqual(summary.messages, 1)
        let stored = try Data(contentsOf: URL(fileURLWithPath: "\(f.path)/example.test/P3_alice.mbx/\(try f.store.messages(of: a)[0].fileName)"))
        var expected = body
        expected.insert(0x0D, at: 2 * MailStore.importWriteSlice)
        XCTAssertEqual(stored.count, expected.count)
        XCTAssertTrue(Array(stored) == expected)
    }

    func testDerivedUIDLsAreStableAndValid() {
        let a = ImportItem.derivedUIDL(kind: "maildir", key: Array("1700000000.M1P2.host".utf8))
        XCTAssertEqual(a, ImportItem.derivedUIDL(kind: "maildir", key: Array("1700000000.M1P2.host".utf8)))
        XCTAssertNotEqual(a, ImportItem.derivedUIDL(kind: "mbox", key: Array("1700000000.M1P2.host".utf8)))
        XCTAssertEqual(a.count, 32)
        XCTAssertTrue(MessageNamer.isValidUIDL(a))
    }

    // MARK: The rest of the store with imported names

    func testSessionsServeAndDeleteImportedMessagesAndQuotaCountsThem() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice", quota: 1_000_000)
        _ = try f.store.deliver(to: a, message: Array("Subject: native\n\n".utf8), enforceQuota: true)
        _ = try f.store.importMessages([item("Dovecot-1", "Subject: one\n\n1\n"), item("Dovecot-2", "Subject: two\n\n2\n")], to: a)
        let session = try f.store.openSession(a, node: "n1", session: "s1")
        XCTAssertEqual(session.messages.count, 3)
        XCTAssertEqual(Array(session.messages.map(\.uidl).dropFirst()), ["Dovecot-1", "Dovecot-2"])
        let handle = try session.openMessage(session.messages[1])
        XCTAssertEqual(String(decoding: try handle.read(at: 0, count: 100), as: UTF8.self), "Subject: one\r\n\r\n1\r\n")
        handle.close()
        try session.commit(deleting: [session.messages[1]])
        try session.release()
        XCTAssertEqual(try f.store.messages(of: a).map(\.uidl).dropFirst(), ["Dovecot-2"])
        let usage = try XCTUnwrap(try f.store.quotaUsage(a))
        XCTAssertEqual(usage.used, try f.store.messages(of: a).reduce(0) { $0 + $1.size })
        XCTAssertEqual(try f.store.mailboxInfo(a).messageCount, 2)
        // A deleted imported message comes back only if imported again: its UIDL is gone from the mailbox.
        XCTAssertEqual(try f.store.importMessages([item("Dovecot-1", "Subject: one\n\n1\n"), item("Dovecot-2", "x")], to: a).skipped, 1)
    }

    func testFsckAcceptsImportedNames() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        _ = try f.store.importMessages([item("0000000150000001", "Subject: one\n\n1\n")], to: a)
        let report = try f.store.fsck(.store, options: .init(repair: false, by: "import-test")) { _ in }
        XCTAssertEqual(report.findings, [])
        XCTAssertEqual(report.messages, 1)
    }
}
