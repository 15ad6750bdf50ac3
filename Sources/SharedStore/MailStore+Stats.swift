import Foundation

/// The processes' per-minute counts in the store (`.poplar/stats/<process>`), for the console's charts: each node
/// and coordinator rewrites its own file (`StatsPublisher`); a console sums them all per minute.
extension MailStore {
    static let statsDir = try! StorePath([".poplar", "stats"])
    /// A stats file holds one hour of minutes (about 100 bytes each); a larger one is not read.
    public static let maxStatsFile = 16 * 1024
    /// At most this many processes' files are read for one chart.
    public static let maxStatsFiles = 1000

    /// Writes this process's samples (`name`: `node-<id>` or `coordinator-<id>`), replacing its file at once.
    public func publishStats(_ name: String, _ samples: [MinuteSample]) throws {
        let n = try Names.validateNodeID(name)
        do { try volume.mkdir(Self.statsDir) } catch let e as StoreError where e.code == .alreadyExists {}
        let text = samples.suffix(Int(MinuteStats.minutes)).map { $0.encoded() + "\n" }.joined()
        try volume.writeAtomically(try Self.statsDir.appending(n), Array(text.utf8), staging: Self.metaTmp)
    }

    /// Every process's counts summed per minute for the minutes after `since` (minutes since 1970), oldest first.
    /// A file that cannot be read, is too large or holds other lines counts for nothing.
    public func clusterStats(since: Int64) throws -> [MinuteSample] {
        let entries: [DirectoryEntry]
        do { entries = try volume.list(Self.statsDir) } catch let e as StoreError where e.code == .notFound { return [] }
        var sums: [Int64: [StatSeries: Int64]] = [:]
        for entry in entries.prefix(Self.maxStatsFiles) where entry.attributes.kind == .file && !entry.name.hasPrefix(".") {
            guard let bytes = try? volume.readAll(try Self.statsDir.appending(entry.name), limit: Self.maxStatsFile) else { continue }
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
                guard let sample = MinuteSample(line: line), sample.minute > since else { continue }
                for (series, value) in sample.values { sums[sample.minute, default: [:]][series, default: 0] &+= value }
            }
        }
        return sums.map { MinuteSample(minute: $0.key, values: $0.value) }.sorted { $0.minute < $1.minute }
    }
}

/// Rewrites a process's stats file every `interval` seconds on a thread of its own (never an event loop).
public enum StatsPublisher {
    public static let interval: Double = 10

    public static func start(store: MailStore, name: String, stats: MinuteStats = .shared, interval: Double = StatsPublisher.interval) {
        Thread.detachNewThread {
            while true {
                try? store.publishStats(name, stats.samples())
                Thread.sleep(forTimeInterval: interval)
            }
        }
    }

    /// At a clean stop: the counts since the last publication are not lost (blocking; the services have stopped).
    public static func publishFinal(store: MailStore, name: String, stats: MinuteStats = .shared) {
        try? store.publishStats(name, stats.samples())
    }
}
