import Foundation
import XCTest

@testable import SharedStore

/// The per-mailbox access journal (issue 16): one line per session, appended under the lock, bounded and rotated,
/// read back oldest first; a torn or foreign line is skipped.
final class AccessJournalTests: XCTestCase {
    func record(_ i: Int, ended: String = "quit") -> AccessRecord {
        AccessRecord(at: Date(timeIntervalSince1970: 1_800_000_000 + Double(i)), node: "n1", session: "s\(i)", client: "192.0.2.7:4\(i % 10)",
                     mechanism: "password", retrieved: i % 3, retrievedBytes: Int64(i * 100), deleted: i % 2, ended: ended)
    }

    func testRecordsRoundTripAndDirtyFieldsAreCleaned() {
        let r = record(7)
        XCTAssertEqual(AccessRecord(line: Substring(String(decoding: r.encoded().dropLast(), as: UTF8.self))), r)
        let dirty = AccessRecord(at: Date(), node: "n 1\nx", session: "a=b", client: String(repeating: "c", count: 500), mechanism: "é", ended: "quit")
        let line = String(decoding: dirty.encoded(), as: UTF8.self)
        XCTAssertEqual(line.filter { $0 == "\n" }.count, 1)
        XCTAssertLessThanOrEqual(line.utf8.count, AccessRecord.maxLineBytes)
        XCTAssertNotNil(AccessRecord(line: Substring(line.dropLast())))
        XCTAssertNil(AccessRecord(line: "garbage without fields"))
    }

    func testSessionsAppendUnderTheLockAndTheJournalRotates() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        let perLine = Int64(record(100).encoded().count)
        let lines = Int(MailStore.maxJournalBytes / perLine) + 20  // past one rotation
        let session = try f.store.openSession(a, node: "n1", session: "writer")
        for i in 100..<(100 + lines) { try session.appendJournal(record(i)) }
        try session.release()
        let read = try f.store.journal(a)
        XCTAssertEqual(read.last, record(100 + lines - 1), "the newest line is last")
        XCTAssertEqual(read, read.sorted { $0.at < $1.at }, "oldest first, across the two files")
        XCTAssertGreaterThan(read.count, lines / 2, "the rotated file is read too")
        let dir = try f.store.mailboxDir(a)
        XCTAssertLessThanOrEqual(try f.store.volume.stat(try dir.appending(MailStore.journalName)).size, MailStore.maxJournalBytes)
        XCTAssertLessThanOrEqual(try f.store.volume.stat(try dir.appending(MailStore.oldJournalName)).size, MailStore.maxJournalBytes)
        XCTAssertThrowsError(try session.appendJournal(record(1)), "a released session writes nothing")
    }

    func testAForeignLineIsSkipped() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        let session = try f.store.openSession(a, node: "n1", session: "writer")
        try session.appendJournal(record(1))
        try session.release()
        let path = try f.store.mailboxDir(a).appending(MailStore.journalName)
        let handle = try f.store.volume.openExisting(path)
        try handle.seek(to: try f.store.volume.stat(path).size)
        try handle.write(Array("half a line from a crash".utf8))
        try handle.close()
        XCTAssertEqual(try f.store.journal(a), [record(1)])
        XCTAssertThrowsError(try f.store.journal(try MailboxAddress(mailbox: "nobody", domain: "example.test")))
    }
}
