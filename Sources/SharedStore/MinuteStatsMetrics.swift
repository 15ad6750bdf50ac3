import CoreMetrics
import Foundation

/// A swift-metrics backend that feeds `MinuteStats` from the few metrics the console charts, beside Prometheus
/// (`MultiplexMetricsHandler`): `poplar_pop3_sessions_total`, `poplar_pop3_logins_total{result}`,
/// `poplar_store_call_duration_seconds` and `poplar_deliveries_total{result}`. Every other metric: a no-op here.
public struct MinuteStatsMetrics: MetricsFactory {
    let stats: MinuteStats

    public init(stats: MinuteStats = .shared) {
        self.stats = stats
    }

    final class Count: CounterHandler, Sendable {
        let stats: MinuteStats
        let series: StatSeries
        init(_ stats: MinuteStats, _ series: StatSeries) {
            self.stats = stats
            self.series = series
        }
        func increment(by amount: Int64) { stats.add(series, amount) }
        func reset() {}
    }

    final class Latency: TimerHandler, Sendable {
        let stats: MinuteStats
        init(_ stats: MinuteStats) { self.stats = stats }
        func recordNanoseconds(_ duration: Int64) {
            stats.add(.storeCalls)
            stats.add(.storeMicroseconds, duration / 1000)
        }
    }

    static func series(_ label: String, _ dimensions: [(String, String)]) -> StatSeries? {
        let result = dimensions.first { $0.0 == "result" }?.1
        switch label {
        case "poplar_pop3_sessions_total": return .sessions
        case "poplar_pop3_logins_total": return result == "success" ? .loginsOK : .loginsFailed
        case "poplar_deliveries_total": return result == "delivered" ? .deliveries : nil
        default: return nil
        }
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> CounterHandler {
        guard let series = Self.series(label, dimensions) else { return NOOPMetricsHandler.instance }
        return Count(stats, series)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> RecorderHandler {
        NOOPMetricsHandler.instance
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> TimerHandler {
        label == "poplar_store_call_duration_seconds" ? Latency(stats) : NOOPMetricsHandler.instance
    }

    public func destroyCounter(_ handler: CounterHandler) {}
    public func destroyRecorder(_ handler: RecorderHandler) {}
    public func destroyTimer(_ handler: TimerHandler) {}
}
