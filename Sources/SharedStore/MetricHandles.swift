import Metrics
import Synchronization

/// Counters and timers made once per label and dimensions, then reused. `Counter(label:)` asks the factory every
/// time (Prometheus checks and cleans the name, takes its lock, looks it up): 3–4 % of a login session's CPU when
/// every command and store call made its own (docs/performance.md). Labels and dimension values come from the
/// code, never from a peer, so the table stays small; past `maxEntries` handles are made afresh, not stored.
/// Nothing is kept before `startCaching()`, which the process calls right after `MetricsSystem.bootstrap`: a
/// handle made earlier (opening the store comes first) belongs to the no-op factory.
public enum MetricHandles {
    public static let maxEntries = 4096

    private struct Table {
        var caching = false
        var counters: [String: Counter] = [:]
        var timers: [String: Timer] = [:]
    }

    private static let table = Mutex(Table())

    public static func startCaching() { table.withLock { $0.caching = true } }

    public static func counter(_ label: String, _ dimensions: [(String, String)] = []) -> Counter {
        cached(\.counters, label, dimensions) { Counter(label: label, dimensions: dimensions) }
    }

    public static func timer(_ label: String, _ dimensions: [(String, String)] = []) -> Timer {
        cached(\.timers, label, dimensions) { Timer(label: label, dimensions: dimensions) }
    }

    private static func cached<H: Sendable>(_ handles: WritableKeyPath<Table, [String: H]>, _ label: String,
                                  _ dimensions: [(String, String)], make: () -> H) -> H {
        let key = key(label, dimensions)
        let found = table.withLock { $0.caching ? ($0[keyPath: handles][key], true) : (nil, false) }
        if let handle = found.0 { return handle }
        let handle = make()
        if found.1 { table.withLock { if $0[keyPath: handles].count < maxEntries { $0[keyPath: handles][key] = handle } } }
        return handle
    }

    private static func key(_ label: String, _ dimensions: [(String, String)]) -> String {
        var key = label
        for (k, v) in dimensions { key += "\u{0}\(k)\u{0}\(v)" }
        return key
    }
}
