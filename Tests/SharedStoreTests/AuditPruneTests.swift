import Foundation
import XCTest

@testable import SharedStore

/// The audit log keeps what an operator asks: whole days older than the bound go, newer ones and anything that is
/// not a day folder stay.
final class AuditPruneTests: XCTestCase {
    func testOldDaysGoNewOnesStay() throws {
        let f = try StoreFixture()
        let now = Date(timeIntervalSince1970: 1_780_000_000)
        for daysAgo in [0, 1, 29, 31, 400] {
            try f.store.appendAudit(AuditEntry(time: now.addingTimeInterval(-Double(daysAgo) * 86_400), who: "cli", from: "h", action: "domain.add",
                                               target: "d\(daysAgo).test", detail: ""))
        }
        try f.volume.mkdir(try MailStore.auditDir.appending("not-a-day"))
        XCTAssertEqual(try f.store.pruneAudit(keepDays: 30, now: now), 2)
        XCTAssertEqual(Set(try f.store.recentAudit(limit: 10).map(\.target)), ["d0.test", "d1.test", "d29.test"])
        XCTAssertTrue(f.files(".poplar/audit").contains("not-a-day"))
        XCTAssertThrowsError(try f.store.pruneAudit(keepDays: 0, now: now))
        XCTAssertEqual(try f.store.pruneAudit(keepDays: 30, now: now), 0)
    }
}
