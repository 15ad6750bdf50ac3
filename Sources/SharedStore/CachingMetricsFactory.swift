import CoreMetrics
import Synchronization

/// A swift-metrics factory that makes each counter and timer handler once per label and dimensions and hands the same
/// one out again. `Counter(label:)` asks the factory on every use, and Prometheus's factory cleans and checks the name
/// and takes its lock each time: 3–4 % of a login session's CPU (docs/performance.md). Labels and dimension values
/// come from the code, never from a peer, so the table stays small; past `maxEntries` handlers are made afresh.
public final class CachingMetricsFactory: MetricsFactory, Sendable {
    public static let maxEntries = 4096

    private struct Table {
        var counters: [String: any CounterHandler] = [:]
        var timers: [String: any TimerHandler] = [:]
    }

    private let inner: any MetricsFactory
    private let table = Mutex(Table())

    public init(_ inner: any MetricsFactory) { self.inner = inner }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        cached(\.counters, label, dimensions) { inner.makeCounter(label: label, dimensions: dimensions) }
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        cached(\.timers, label, dimensions) { inner.makeTimer(label: label, dimensions: dimensions) }
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        inner.makeRecorder(label: label, dimensions: dimensions, aggregate: aggregate)
    }

    /// Kept handlers stay: another `Counter` of the same label may still use it.
    public func destroyCounter(_ handler: any CounterHandler) {}
    public func destroyTimer(_ handler: any TimerHandler) {}
    public func destroyRecorder(_ handler: any RecorderHandler) { inner.destroyRecorder(handler) }

    private func cached<H: Sendable>(_ handlers: WritableKeyPath<Table, [String: H]>, _ label: String, _ dimensions: [(String, String)],
                           make: () -> H) -> H {
        var key = label
        for (k, v) in dimensions { key += "\u{0}\(k)\u{0}\(v)" }
        if let found = table.withLock({ $0[keyPath: handlers][key] }) { return found }
        let handler = make()
        table.withLock { if $0[keyPath: handlers].count < Self.maxEntries { $0[keyPath: handlers][key] = handler } }
        return handler
    }
}
