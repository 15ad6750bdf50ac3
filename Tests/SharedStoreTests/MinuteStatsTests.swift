import CoreMetrics
import Foundation
import Synchronization
import XCTest

@testable import SharedStore

/// The per-minute counts behind the console's charts: counted from the metrics, published per process, summed per
/// minute over the cluster; a stats file on the NAS is data (bad lines and large files count for nothing).
final class MinuteStatsTests: XCTestCase {
    func testCountsPerMinuteFromTheMetricsThatAreCharted() {
        let clock = Mutex(Date(timeIntervalSince1970: 60 * 1_000_000))
        let stats = MinuteStats(now: { clock.withLock { $0 } })
        let factory = MinuteStatsMetrics(stats: stats)
        factory.makeCounter(label: "poplar_pop3_sessions_total", dimensions: []).increment(by: 2)
        factory.makeCounter(label: "poplar_pop3_logins_total", dimensions: [("result", "success")]).increment(by: 1)
        factory.makeCounter(label: "poplar_pop3_logins_total", dimensions: [("result", "bad-credentials")]).increment(by: 3)
        factory.makeCounter(label: "poplar_deliveries_total", dimensions: [("result", "delivered")]).increment(by: 1)
        factory.makeCounter(label: "poplar_deliveries_total", dimensions: [("result", "452")]).increment(by: 1)
        factory.makeCounter(label: "poplar_pop3_commands_total", dimensions: [("command", "STAT")]).increment(by: 9)
        factory.makeTimer(label: "poplar_store_call_duration_seconds", dimensions: [("call", "list")]).recordNanoseconds(2_000_000)
        clock.withLock { $0 += 60 }
        factory.makeCounter(label: "poplar_pop3_sessions_total", dimensions: []).increment(by: 1)
        let samples = stats.samples()
        XCTAssertEqual(samples.map(\.minute), [1_000_000, 1_000_001])
        XCTAssertEqual(samples[0].values, [.sessions: 2, .loginsOK: 1, .loginsFailed: 3, .deliveries: 1, .storeCalls: 1, .storeMicroseconds: 2000])
        XCTAssertEqual(samples[1].values, [.sessions: 1])
        clock.withLock { $0 += 3600 }
        XCTAssertEqual(stats.samples(), [], "only the last hour")
    }

    func testPublishedFilesAreSummedPerMinuteAndBadOnesIgnored() throws {
        let f = try StoreFixture()
        try f.store.publishStats("node-a", [MinuteSample(minute: 10, values: [.sessions: 2]), MinuteSample(minute: 11, values: [.sessions: 1])])
        try f.store.publishStats("node-b", [MinuteSample(minute: 11, values: [.sessions: 4, .loginsFailed: 1])])
        try f.volume.writeFile(try MailStore.statsDir.appending("junk"), Array("m=11 sessions=-5\nm=x\nsessions=9\n\u{0}\n".utf8), exclusive: true)
        try f.volume.writeFile(try MailStore.statsDir.appending("huge"), Array(repeating: 0x41, count: MailStore.maxStatsFile + 1), exclusive: true)
        let summed = try f.store.clusterStats(since: 9)
        XCTAssertEqual(summed, [MinuteSample(minute: 10, values: [.sessions: 2]), MinuteSample(minute: 11, values: [.sessions: 5, .loginsFailed: 1])])
        XCTAssertEqual(try f.store.clusterStats(since: 10).map(\.minute), [11])
        XCTAssertThrowsError(try f.store.publishStats("../x", []))
        // A clean stop says so in its first line, which the counts skip; only the names asked for are read.
        try f.store.publishStats("coordinator-c1", [MinuteSample(minute: 11, values: [.deliveries: 2])], stopped: true)
        try f.store.publishStats("coordinator-c2", [])
        let coordinators = try f.store.statsPublishers(prefix: "coordinator-")
        XCTAssertEqual(coordinators.map(\.name), ["coordinator-c1", "coordinator-c2"])
        XCTAssertEqual(coordinators.map(\.stopped), [true, false])
        XCTAssertEqual(try f.store.clusterStats(since: 10).first?.values[.deliveries], 2)
    }

    func testSampleLines() {
        let s = MinuteSample(minute: 7, values: [.deliveries: 3, .storeMicroseconds: 12])
        XCTAssertEqual(MinuteSample(line: Substring(s.encoded()))?.values[.deliveries], 3)
        XCTAssertEqual(MinuteSample(line: Substring(s.encoded()))?.values[.storeMicroseconds], 12)
        XCTAssertNil(MinuteSample(line: "sessions=1"))
        XCTAssertNil(MinuteSample(line: "m=1 sessions=99999999999999999999999"))
        XCTAssertEqual(MinuteSample(line: "m=1 unknown=4")?.values, [:], "an unknown series is skipped")
    }
}
