import Foundation
import XCTest

@testable import SharedStore

/// Administrators tend the coordinator's Badmail: list with reasons, read bounded, retry into pickup, delete; a name
/// is one plain path component, whatever the request says.
final class BadmailTests: XCTestCase {
    func put(_ f: StoreFixture, _ dir: StorePath, _ name: String, _ text: String) throws {
        do { try f.volume.mkdir(dir) } catch let e as StoreError where e.code == .alreadyExists {}
        try f.volume.writeFile(try dir.appending(name), Array(text.utf8), exclusive: false)
    }

    func testListRetryDeleteAndBounds() throws {
        let f = try StoreFixture()
        try put(f, MailStore.badmailDir, "a.eml", "x-receiver: a@example.test\r\n\r\nhi\r\n")
        try put(f, MailStore.badmailDir, "a.eml.reason", "not delivered to: a@example.test\n" + String(repeating: "r", count: 10_000))
        try put(f, MailStore.badmailDir, "big.eml", String(repeating: "m", count: MailStore.maxBadmailShown + 10))
        try put(f, MailStore.pickupDir, "waiting.eml", "x")
        try put(f, MailStore.pickupDir, ".work.1.claimed.eml", "x")
        XCTAssertEqual(try f.store.pickupWaiting().count, 1, "a claimed file is not waiting")
        let listed = try f.store.badmail(limit: 10)
        XCTAssertEqual(Set(listed.map(\.name)), ["a.eml", "big.eml"], "reason files are not messages")
        XCTAssertEqual(listed.first { $0.name == "a.eml" }?.reason.utf8.count, MailStore.maxBadmailReason, "a reason is read bounded")
        let big = try f.store.badmailMessage("big.eml")
        XCTAssertTrue(big.truncated)
        XCTAssertEqual(big.bytes.count, MailStore.maxBadmailShown)

        try f.store.retryBadmail("a.eml")
        XCTAssertEqual(f.files(".poplar/pickup").filter { !$0.hasPrefix(".") }.sorted(), ["a.eml", "waiting.eml"])
        XCTAssertFalse(f.files(".poplar/badmail").contains("a.eml.reason"), "its reason goes with it")
        try put(f, MailStore.badmailDir, "waiting.eml", "y")
        XCTAssertThrowsError(try f.store.retryBadmail("waiting.eml")) { XCTAssertEqual(($0 as? StoreError)?.code, .alreadyExists) }
        try f.store.deleteBadmail("big.eml")
        XCTAssertThrowsError(try f.store.deleteBadmail("big.eml")) { XCTAssertEqual(($0 as? StoreError)?.code, .notFound) }
        for bad in ["", ".hidden", "../../passwd", "x/y", "a.eml.reason", "nul\u{0}", String(repeating: "n", count: 256)] {
            XCTAssertThrowsError(try f.store.retryBadmail(bad), bad) { XCTAssertEqual(($0 as? StoreError)?.code, .invalidName, bad) }
            XCTAssertThrowsError(try f.store.deleteBadmail(bad), bad)
            XCTAssertThrowsError(try f.store.badmailMessage(bad), bad)
        }
    }

    func testEmptyFoldersWhenNoCoordinatorMadeThem() throws {
        let f = try StoreFixture()
        XCTAssertEqual(try f.store.pickupWaiting().count, 0)
        XCTAssertEqual(try f.store.badmail(limit: 10), [])
    }
}
