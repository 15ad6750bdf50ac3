import Foundation
import Synchronization

/// What the console's charts show (issue 17: sessions, logins ok and failed, store latency, deliveries over the last
/// hour), counted per minute by each node and coordinator from its own metrics (`MinuteStatsMetrics`) and published
/// into the store (`.poplar/stats/<process>`, `StatsPublisher`), where any console reads every process's.
public enum StatSeries: String, CaseIterable, Sendable {
    case sessions
    case loginsOK = "logins-ok"
    case loginsFailed = "logins-failed"
    case storeCalls = "store-calls"
    /// The store calls' total time in microseconds (with `storeCalls`: the mean latency of the minute).
    case storeMicroseconds = "store-us"
    case deliveries
}

/// One minute's counts (minutes since 1970, UTC).
public struct MinuteSample: Sendable, Equatable {
    public var minute: Int64
    public var values: [StatSeries: Int64]

    public init(minute: Int64, values: [StatSeries: Int64]) {
        self.minute = minute
        self.values = values
    }

    public func encoded() -> String {
        "m=\(minute)" + StatSeries.allCases.map { " \($0.rawValue)=\(values[$0] ?? 0)" }.joined()
    }

    /// One line of a stats file; nil for anything else (a file on the NAS is data, whoever wrote it).
    public init?(line: Substring) {
        var minute: Int64?
        var values: [StatSeries: Int64] = [:]
        for field in line.split(separator: " ").prefix(StatSeries.allCases.count + 1) {
            guard let eq = field.firstIndex(of: "="), let value = Int64(field[field.index(after: eq)...]), value >= 0 else { return nil }
            let key = field[..<eq]
            if key == "m" { minute = value } else if let series = StatSeries(rawValue: String(key)), value > 0 { values[series] = value }
        }
        guard let minute else { return nil }
        self.init(minute: minute, values: values)
    }
}

/// The counts of the last `MinuteStats.minutes` minutes in this process.
public final class MinuteStats: Sendable {
    public static let minutes: Int64 = 60
    public static let shared = MinuteStats()
    let now: @Sendable () -> Date
    private let table = Mutex<[Int64: [StatSeries: Int64]]>([:])

    public init(now: @escaping @Sendable () -> Date = { Date() }) {
        self.now = now
    }

    static func minute(of date: Date) -> Int64 { Int64((date.timeIntervalSince1970 / 60).rounded(.down)) }
    public static func minute(ofNow date: Date) -> Int64 { minute(of: date) }

    public func add(_ series: StatSeries, _ amount: Int64 = 1) {
        let m = Self.minute(of: now())
        table.withLock { t in
            t[m, default: [:]][series, default: 0] &+= max(0, amount)
            if t.count > Int(Self.minutes) + 1 { t = t.filter { $0.key > m - Self.minutes } }
        }
    }

    /// The last hour's minutes that have counts, oldest first.
    public func samples() -> [MinuteSample] {
        let m = Self.minute(of: now())
        return table.withLock { t in
            t.filter { $0.key > m - Self.minutes }.map { MinuteSample(minute: $0.key, values: $0.value) }.sorted { $0.minute < $1.minute }
        }
    }
}
