import Dispatch
import Foundation
import XCTest

@testable import SharedStore

/// Concurrent administrator writes of different names never fail each other: mailboxes added at once in one
/// domain (its directory there or not yet), domains added at once, and both together. Runs on whatever volume
/// `StoreFixture` gives (POSIX, or NFS under POPLAR_TEST_NFS).
final class ConcurrentAdminTests: XCTestCase {
    static let writers = 16

    /// Runs `body(i)` for every i on as many threads at once, and collects each failure with its index.
    func concurrently(_ count: Int = writers, _ body: @Sendable @escaping (Int) throws -> Void) -> [String] {
        let failures = Collector<String>()
        DispatchQueue.concurrentPerform(iterations: count) { i in
            do { try body(i) } catch { failures.add("\(i): \(error)") }
        }
        return failures.all
    }

    func testMailboxesAddedAtOnceInOneDomain() throws {
        let f = try StoreFixture()
        let store = f.store
        XCTAssertEqual(concurrently { i in
            try store.createMailbox(try MailboxAddress(mailbox: "user\(i)", domain: "example.test"), password: "pw", allowAPOP: false, quota: nil)
        }, [])
        XCTAssertEqual(try store.mailboxes(in: "example.test").count, Self.writers)
    }

    /// The domain is accepted but its directory is not there yet: every writer finds it missing and makes it.
    func testMailboxesAddedAtOnceInADomainWithoutItsDirectory() throws {
        let f = try StoreFixture()
        try f.volume.rmdir(try StorePath(["example.test"]))
        let store = f.store
        XCTAssertEqual(concurrently { i in
            try store.createMailbox(try MailboxAddress(mailbox: "user\(i)", domain: "example.test"), password: "pw", allowAPOP: false, quota: nil)
        }, [])
        XCTAssertEqual(try store.mailboxes(in: "example.test").count, Self.writers)
    }

    /// Each domain add rewrites the whole metabase: none may be lost to another's rewrite.
    func testDomainsAddedAtOnce() throws {
        let f = try StoreFixture()
        let store = f.store
        let before = try store.metabaseVersion()
        XCTAssertEqual(concurrently { i in try store.addDomain("d\(i).test") }, [])
        XCTAssertEqual(Set(try store.domains()), Set((0..<Self.writers).map { "d\($0).test" } + ["example.test"]))
        XCTAssertEqual(try store.metabaseVersion(), before + Self.writers)
        XCTAssertEqual(f.files(".poplar/tmp"), [], "no staging file left behind")
    }

    /// Other processes' stores (own volumes) adding domains and removing others, and mailboxes in each at once.
    func testDomainsAndMailboxesFromSeveralStoresAtOnce() throws {
        let f = try StoreFixture()
        let stores = try (0..<4).map { _ in try MailStore.open(volume: try f.anotherVolume(), guid: f.guid) }
        for i in 0..<Self.writers { try f.store.addDomain("old\(i).test") }
        XCTAssertEqual(concurrently(Self.writers * 2) { i in
            let store = stores[i % stores.count]
            if i % 2 == 0 {
                try store.addDomain("new\(i).test")
                for n in 0..<3 {
                    try store.createMailbox(try MailboxAddress(mailbox: "u\(n)", domain: "new\(i).test"), password: "pw", allowAPOP: false, quota: nil)
                }
            } else {
                try store.removeDomain("old\(i / 2).test", purge: true)
                try store.createMailbox(try MailboxAddress(mailbox: "m\(i)", domain: "example.test"), password: "pw", allowAPOP: false, quota: nil)
            }
        }, [])
        let expected = Set((0..<Self.writers * 2).filter { $0 % 2 == 0 }.map { "new\($0).test" } + ["example.test"])
        XCTAssertEqual(Set(try f.store.domains()), expected)
        for d in expected where d != "example.test" { XCTAssertEqual(try f.store.mailboxes(in: d).count, 3, d) }
        XCTAssertEqual(try f.store.mailboxes(in: "example.test").count, Self.writers)
    }
}
