import Foundation
import Synchronization
import XCTest

@testable import Console

/// The console's sessions: anyone can make login-page sessions (one per GET /login), so their flood must never push
/// out a logged-in administrator.
final class SessionStoreTests: XCTestCase {
    func testAFloodOfLoginPagesNeverEndsAnAdministratorsSession() {
        let clock = Mutex(Date(timeIntervalSince1970: 1_000_000))
        let store = SessionStore(idle: 900, now: { clock.withLock { $0 } })
        let (admin, _) = store.create(admin: "ops")
        var first: String?
        for i in 0..<(ConsoleLimits.maxLoginPageSessions + 50) {
            clock.withLock { $0 += 0.001 }  // every one newer than the administrator's session
            let (token, _) = store.create(admin: nil)
            if i == 0 { first = token }
        }
        XCTAssertEqual(store.touch(admin)?.admin, "ops", "the administrator is still logged in")
        XCTAssertEqual(store.count, ConsoleLimits.maxLoginPageSessions + 1, "the login-page sessions stay within their bound")
        XCTAssertNil(store.touch(first!), "the oldest login-page session made room")
    }

    func testAdministratorsSessionsHaveTheirOwnBoundAndExpire() {
        let clock = Mutex(Date(timeIntervalSince1970: 1_000_000))
        let store = SessionStore(idle: 900, now: { clock.withLock { $0 } })
        let (page, _) = store.create(admin: nil)
        let (admin, _) = store.create(admin: "ops")
        clock.withLock { $0 += 601 }
        XCTAssertNil(store.touch(page), "a login page expires after \(ConsoleLimits.loginPageIdleSeconds) s")
        XCTAssertNotNil(store.touch(admin))
        clock.withLock { $0 += 901 }
        XCTAssertNil(store.touch(admin), "an administrator's session after its idle time")
        XCTAssertEqual(store.count, 0)
    }
}
