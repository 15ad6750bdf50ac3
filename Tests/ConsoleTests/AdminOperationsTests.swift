import Admin
import Foundation
import SharedStore
import XCTest

final class AdminOperationsTests: XCTestCase {
    let cli = AdminActor.commandLine(host: "test-host")

    func testDomainsAndMailboxesAreAudited() throws {
        let f = try ConsoleFixture()
        XCTAssertEqual(try f.admin.addDomain("Example.TEST", by: cli), "example.test")
        XCTAssertEqual(try f.admin.domains(), ["example.test"])
        let a = try f.admin.addMailbox("alice@example.test", password: "pw1", allowAPOP: false, quota: 1024, by: cli)
        try f.admin.resetPassword("alice@example.test", password: "pw2", allowAPOP: false, by: cli)
        try f.admin.setQuota("alice@example.test", nil, by: cli)
        let record = try f.store.passwordRecord(a)
        XCTAssertTrue(PasswordHasher.verify(password: Array("pw2".utf8), record: record, guid: f.store.guid))
        XCTAssertNil(try f.store.mailboxInfo(a).quota)
        try f.admin.removeDomain("example.test", purge: true, by: cli)
        let actions = try f.admin.recentAudit(limit: 100).map(\.action)
        XCTAssertEqual(actions, ["domain.purge", "mailbox.quota", "mailbox.passwd", "mailbox.add", "domain.add", "admin.add"])
        let newest = try XCTUnwrap(try f.admin.recentAudit(limit: 1).first)
        XCTAssertEqual(newest.who, "cli")
        XCTAssertEqual(newest.from, "test-host")
        XCTAssertEqual(newest.target, "example.test")
    }

    func testRefusalsAreAdminErrors() throws {
        let f = try ConsoleFixture()
        XCTAssertThrowsError(try f.admin.addDomain("<script>.test", by: cli)) { e in
            XCTAssertEqual((e as? AdminError)?.kind, .invalid)
        }
        XCTAssertThrowsError(try f.admin.addMailbox("bob@nowhere.test", password: "pw", allowAPOP: false, quota: nil, by: cli)) { e in
            XCTAssertEqual((e as? AdminError)?.kind, .notFound)
        }
        try f.admin.addDomain("example.test", by: cli)
        XCTAssertThrowsError(try f.admin.addDomain("example.test", by: cli)) { e in
            XCTAssertEqual((e as? AdminError)?.kind, .alreadyExists)
        }
        XCTAssertThrowsError(try f.admin.addMailbox("bob@example.test", password: "", allowAPOP: false, quota: nil, by: cli))
        XCTAssertThrowsError(try f.admin.addMailbox("bob@example.test", password: String(repeating: "x", count: 1025), allowAPOP: false,
                                                    quota: nil, by: cli))
    }

    func testAdministrators() throws {
        let f = try ConsoleFixture()
        XCTAssertEqual(try f.admin.admins(), ["root"])
        XCTAssertTrue(f.admin.verifyAdmin("root", password: ConsoleFixture.adminPassword))
        XCTAssertTrue(f.admin.verifyAdmin("ROOT", password: ConsoleFixture.adminPassword))
        XCTAssertFalse(f.admin.verifyAdmin("root", password: "wrong"))
        XCTAssertFalse(f.admin.verifyAdmin("nobody", password: ConsoleFixture.adminPassword))
        XCTAssertFalse(f.admin.verifyAdmin("../cluster", password: "x"))
        XCTAssertThrowsError(try f.admin.addAdmin("root", password: "x", by: cli))
        XCTAssertThrowsError(try f.admin.addAdmin("bad name", password: "x", by: cli))
        // GUID-keyed like a mailbox's record, with the cluster's rounds.
        let text = try String(contentsOfFile: f.path + "/.poplar/admins/root", encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("phc=$pbkdf2-sha256$i=1000$"))
        XCTAssertTrue(text.contains("key=\(f.store.guid.tag)"))
        XCTAssertFalse(text.contains(ConsoleFixture.adminPassword))
        try f.admin.setAdminPassword("root", password: "new one", by: cli)
        XCTAssertTrue(f.admin.verifyAdmin("root", password: "new one"))
        try f.admin.removeAdmin("root", by: cli)
        XCTAssertEqual(try f.admin.admins(), [])
        XCTAssertFalse(try f.admin.adminExists("root"))
    }

    func testPagesSliceSortedNames() {
        let names = (0..<120).map { String(format: "user%03d", $0) }
        let first = MailboxPage.slice(names, domain: "d.test", search: "", after: nil, limit: 50)
        XCTAssertEqual(first.names.count, 50)
        XCTAssertEqual(first.next, "user049")
        XCTAssertEqual(first.matching, 120)
        let third = MailboxPage.slice(names, domain: "d.test", search: "", after: "user099", limit: 50)
        XCTAssertEqual(third.names, (100..<120).map { String(format: "user%03d", $0) })
        XCTAssertNil(third.next)
        let search = MailboxPage.slice(names, domain: "d.test", search: "R11", after: nil, limit: 5)
        XCTAssertEqual(search.names, ["user110", "user111", "user112", "user113", "user114"])
        XCTAssertEqual(search.next, "user114")
        XCTAssertEqual(search.matching, 10)  // user110-119
        XCTAssertEqual(MailboxPage.slice(names, domain: "d.test", search: "", after: nil, limit: 100_000).names.count, 120)
    }

    /// A page of a domain of 100,000 mailboxes comes from one listing of the domain: no mailbox's files are read
    /// (counted calls, not time: how long it takes is the benchmark's to say).
    func testPageAtOneHundredThousandMailboxes() throws {
        let f = try ConsoleFixture()
        try f.admin.addDomain("big.test", by: cli)
        let fm = FileManager.default
        for i in 0..<100_000 {
            try fm.createDirectory(atPath: f.path + "/big.test/P3_user\(String(format: "%06d", i)).mbx", withIntermediateDirectories: false)
        }
        let volume = CallCountingVolume(try POSIXVolume(rootPath: f.path))
        let admin = AdminOperations(store: try MailStore.open(volume: volume, guid: f.guid))
        volume.reset()
        let page = try admin.mailboxPage(domain: "big.test", search: "", after: "user049999", limit: 50)
        XCTAssertEqual(page.names.first, "user050000")
        XCTAssertEqual(page.names.count, 50)
        XCTAssertEqual(page.matching, 100_000)
        XCTAssertEqual(volume.calls["list"], 1, "one listing of the domain: \(volume.calls)")
        XCTAssertLessThanOrEqual(volume.total, 4, "nothing per mailbox: \(volume.calls)")
        volume.reset()
        let searched = try admin.mailboxPage(domain: "big.test", search: "99999", after: nil, limit: 50)
        XCTAssertEqual(searched.names, ["user099999"])
        XCTAssertLessThanOrEqual(volume.total, 4, "nothing per mailbox: \(volume.calls)")
    }

    func testByteSize() {
        XCTAssertEqual(ByteSize.parse("2G"), 2 << 30)
        XCTAssertEqual(ByteSize.parseQuota(" none "), .none)
        XCTAssertEqual(ByteSize.parseQuota("500M"), .bytes(500 << 20))
        XCTAssertEqual(ByteSize.parseQuota("lots"), .invalid)
        XCTAssertEqual(ByteSize.describe(1536 << 20), "1.5 GiB")
        XCTAssertEqual(ByteSize.describe(300), "300 B")
    }

    func testAuditEntryHasNoControlCharacters() throws {
        let entry = AuditEntry(who: "root", from: "::1", action: "domain.add", target: "evil\nwho=forged")
        let decoded = try XCTUnwrap(AuditEntry(decoding: entry.encoded()))
        XCTAssertEqual(decoded.who, "root")
        XCTAssertEqual(decoded.target, "evil\u{FFFD}who=forged")
    }
}
