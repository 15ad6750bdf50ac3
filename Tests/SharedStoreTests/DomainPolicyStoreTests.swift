import Foundation
import XCTest

@testable import SharedStore

/// Domain policies on their metabase lines, the last-login record, and messages past EXPIRE left out of a session.
final class DomainPolicyStoreTests: XCTestCase {
    func testPoliciesLiveOnTheMetabaseLines() throws {
        let f = try StoreFixture()
        try f.store.addDomain("other.test")
        try f.store.setDomainPolicy("example.test", DomainPolicy(loginDelay: 900, expireDays: 30))
        XCTAssertEqual(try f.store.domainPolicies()["example.test"], DomainPolicy(loginDelay: 900, expireDays: 30))
        XCTAssertEqual(try f.store.domainPolicies()["other.test"], DomainPolicy.none)
        let text = try String(contentsOfFile: f.path + "/.poplar/domains", encoding: .utf8)
        XCTAssertTrue(text.contains("example.test login-delay=900 expire=30\n") && text.contains("other.test\n"), text)
        // Adding and removing other domains keeps the policy; the domain list is unchanged by it.
        try f.store.addDomain("third.test")
        try f.store.removeDomain("other.test", purge: false)
        XCTAssertEqual(try f.store.domains(), ["example.test", "third.test"])
        XCTAssertEqual(try f.store.domainPolicy("example.test"), DomainPolicy(loginDelay: 900, expireDays: 30))
        XCTAssertThrowsError(try f.store.setDomainPolicy("absent.test", .none))
    }

    func testOlderAndNewerMetabaseLinesRead() {
        let metabase = MailStore.decodeMetabaseFile(Array("version=3\na.test\nb.test expire=0 future=1 login-delay=x\n\nc.test login-delay=60\n".utf8))
        XCTAssertEqual(metabase.version, 3)
        XCTAssertEqual(metabase.domains, ["a.test", "b.test", "c.test"])
        XCTAssertEqual(metabase.policies["b.test"], DomainPolicy(loginDelay: 0, expireDays: 0))
        XCTAssertEqual(metabase.policies["c.test"], DomainPolicy(loginDelay: 60))
        XCTAssertEqual(MailStore.decodeMetabase(Array("version=1\na.test expire=5\n".utf8)).domains, ["a.test"])
    }

    func testLastLogin() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        XCTAssertNil(try f.store.lastLogin(a))
        let at = Date(timeIntervalSince1970: 1_800_000_000.5)
        try f.store.recordLogin(a, at: at)
        XCTAssertEqual(try f.store.lastLogin(a), at)
    }

    // EXPIRE n: messages delivered before the cutoff are not listed and go with the session's deletions.
    func testExpiredMessagesLeftOutAndDeletedAtUpdate() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        let old = try f.store.deliver(to: a, message: Array("Subject: old\r\n\r\nx\r\n".utf8), enforceQuota: false)
        let fresh = try f.store.deliver(to: a, message: Array("Subject: new\r\n\r\ny\r\n".utf8), enforceQuota: false)
        let oldPath = f.path + "/example.test/P3_alice.mbx/" + old.fileName
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -40 * 86400)], ofItemAtPath: oldPath)
        let session = try f.store.openSession(a, node: "n1", session: "s1", expireBefore: Date(timeIntervalSinceNow: -30 * 86400))
        XCTAssertEqual(session.messages.map(\.fileName), [fresh.fileName])
        XCTAssertEqual(session.expired.map(\.fileName), [old.fileName])
        try session.commit(deleting: session.expired)
        try session.release()
        XCTAssertFalse(FileManager.default.fileExists(atPath: oldPath))
        XCTAssertEqual(try f.store.openSession(a, node: "n1", session: "s2").messages.map(\.fileName), [fresh.fileName])
    }
}
