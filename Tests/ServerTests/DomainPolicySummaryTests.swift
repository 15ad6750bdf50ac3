import SharedStore
import XCTest

@testable import Node

/// What CAPA announces before login from every domain's policy (RFC 2449 §6.5, §6.7).
final class DomainPolicySummaryTests: XCTestCase {
    func testSummaries() {
        XCTAssertEqual(DomainPolicySummary([]), DomainPolicySummary())
        let none = DomainPolicySummary([.none, .none])
        XCTAssertEqual([none.loginDelay, none.expire], ["0", "NEVER"])
        let same = DomainPolicySummary([DomainPolicy(loginDelay: 900, expireDays: 30), DomainPolicy(loginDelay: 900, expireDays: 30)])
        XCTAssertEqual([same.loginDelay, same.expire], ["900", "30"])
        let mixed = DomainPolicySummary([DomainPolicy(loginDelay: 900, expireDays: nil), DomainPolicy(loginDelay: 300, expireDays: 7), .none])
        XCTAssertEqual([mixed.loginDelay, mixed.expire], ["0 USER", "7 USER"])
        let zero = DomainPolicySummary([DomainPolicy(expireDays: 0)])
        XCTAssertEqual(zero.expire, "0")
    }
}
