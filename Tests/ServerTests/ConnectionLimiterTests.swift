import NIOConcurrencyHelpers
import NIOCore
import XCTest

@testable import Node

final class ConnectionLimiterTests: XCTestCase {
    func testAdmitsQueuesThenRefuses() {
        let limiter = ConnectionLimiter(maxActive: 2, backlog: 1)
        let resumed = NIOLockedValueBox(0)
        XCTAssertEqual(limiter.admit { }, .admitted)
        XCTAssertEqual(limiter.admit { }, .admitted)
        guard case .queued = limiter.admit(resume: { resumed.withLockedValue { $0 += 1 } }) else { return XCTFail("should queue") }
        XCTAssertEqual(limiter.admit { }, .refused)
        limiter.release()
        XCTAssertEqual(resumed.withLockedValue { $0 }, 1, "the slot went to the waiting connection")
        XCTAssertEqual(limiter.activeCount, 2)
        limiter.release(); limiter.release()
        XCTAssertEqual(limiter.activeCount, 0)
    }

    func testPerAddressLimitCountsEachAddressAndForgetsClosedOnes() {
        let limiter = ConnectionLimiter(maxActive: 100, backlog: 0, perAddress: 2)
        XCTAssertTrue(limiter.admitAddress("192.0.2.7"))
        XCTAssertTrue(limiter.admitAddress("192.0.2.7"))
        XCTAssertFalse(limiter.admitAddress("192.0.2.7"), "a third from the same address")
        XCTAssertTrue(limiter.admitAddress("192.0.2.8"), "another address has its own count")
        limiter.releaseAddress("192.0.2.7")
        XCTAssertTrue(limiter.admitAddress("192.0.2.7"), "a closed connection frees its place")
        for _ in 0..<2 { limiter.releaseAddress("192.0.2.7") }
        limiter.releaseAddress("192.0.2.8")
        XCTAssertEqual(limiter.openConnections(from: "192.0.2.7"), 0)
        XCTAssertEqual(limiter.openConnections(from: "192.0.2.8"), 0)
        let unlimited = ConnectionLimiter(maxActive: 1, backlog: 0)
        for _ in 0..<1000 { XCTAssertTrue(unlimited.admitAddress("192.0.2.7")) }
    }

    /// SIGHUP: more slots serve the waiting at once; fewer close nobody and hand no slot over until the sessions
    /// above the new limit have ended; a per-address limit set later counts the connections already open.
    func testNewLimitsApplyWithoutClosingAnyone() {
        let limiter = ConnectionLimiter(maxActive: 1, backlog: 5)
        let resumed = NIOLockedValueBox(0)
        XCTAssertEqual(limiter.admit { }, .admitted)
        for _ in 0..<2 { guard case .queued = limiter.admit(resume: { resumed.withLockedValue { $0 += 1 } }) else { return XCTFail("queue") } }
        limiter.update(maxActive: 3, backlog: 5, perAddress: 0)
        XCTAssertEqual(resumed.withLockedValue { $0 }, 2, "both waiting connections are served at once")
        XCTAssertEqual(limiter.activeCount, 3)
        limiter.update(maxActive: 1, backlog: 5, perAddress: 0)
        guard case .queued = limiter.admit(resume: { resumed.withLockedValue { $0 += 1 } }) else { return XCTFail("queue") }
        limiter.release()
        limiter.release()
        XCTAssertEqual(resumed.withLockedValue { $0 }, 2, "no slot is handed over while more than the new limit are served")
        limiter.release()
        XCTAssertEqual(resumed.withLockedValue { $0 }, 3, "at the limit, the next release hands the slot over")
        XCTAssertEqual(limiter.activeCount, 1)

        let perAddress = ConnectionLimiter(maxActive: 100, backlog: 0)
        for _ in 0..<3 { XCTAssertTrue(perAddress.admitAddress("192.0.2.7")) }
        perAddress.update(maxActive: 100, backlog: 0, perAddress: 2)
        XCTAssertFalse(perAddress.admitAddress("192.0.2.7"), "the three already open count against the new limit")
        perAddress.releaseAddress("192.0.2.7")
        perAddress.releaseAddress("192.0.2.7")
        XCTAssertTrue(perAddress.admitAddress("192.0.2.7"))
    }

    func testCancelledTicketIsNotResumed() {
        let limiter = ConnectionLimiter(maxActive: 1, backlog: 2)
        XCTAssertEqual(limiter.admit { }, .admitted)
        guard case .queued(let ticket) = limiter.admit(resume: { XCTFail("cancelled ticket resumed") }) else { return XCTFail() }
        limiter.cancel(ticket: ticket)
        XCTAssertEqual(limiter.waitingCount, 0)
        limiter.release()
        XCTAssertEqual(limiter.activeCount, 0)
    }
}

final class LoginCacheTests: XCTestCase {
    func testHitMissExpiryAndRecordChange() {
        let cache = LoginCache(ttl: .seconds(10), capacity: 2)
        let now = NIODeadline.now()
        let record = Array("phc-1".utf8)
        cache.insert(user: "a@x", password: Array("pw".utf8), recordBytes: record, now: now)
        XCTAssertTrue(cache.contains(user: "a@x", password: Array("pw".utf8), recordBytes: record, now: now))
        XCTAssertFalse(cache.contains(user: "a@x", password: Array("px".utf8), recordBytes: record, now: now), "wrong password")
        XCTAssertFalse(cache.contains(user: "a@x", password: Array("pw".utf8), recordBytes: Array("phc-2".utf8), now: now), "password changed")
        cache.insert(user: "a@x", password: Array("pw".utf8), recordBytes: record, now: now)
        XCTAssertFalse(cache.contains(user: "a@x", password: Array("pw".utf8), recordBytes: record, now: now + .seconds(11)), "expired")
    }

    func testBoundedSize() {
        let cache = LoginCache(ttl: .seconds(10), capacity: 2)
        for user in ["a", "b", "c", "d"] { cache.insert(user: user, password: [1], recordBytes: [2]) }
        XCTAssertLessThanOrEqual(cache.count, 2)
    }
}
