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
    /// `stopped`: the process's last publication at a clean stop (a first line `stopped`, which readers of the counts skip).
    public func publishStats(_ name: String, _ samples: [MinuteSample], stopped: Bool = false) throws {
        let n = try Names.validateNodeID(name)
        do { try volume.mkdir(Self.statsDir) } catch let e as StoreError where e.code == .alreadyExists {}
        let text = (stopped ? Self.stoppedLine + "\n" : "") + samples.suffix(Int(MinuteStats.minutes)).map { $0.encoded() + "\n" }.joined()
        try volume.writeAtomically(try Self.statsDir.appending(n), Array(text.utf8), staging: Self.metaTmp)
    }

    /// Every process that publishes stats (`node-<id>`, `coordinator-<id>`) and when its file was last rewritten (the
    /// NAS's clock): a running process rewrites it every `StatsPublisher.interval`, a standby coordinator too.
    /// Only names starting with `prefix`; each file's first line tells whether it stopped cleanly.
    public func statsPublishers(prefix: String) throws -> [(name: String, published: Date, stopped: Bool)] {
        let entries: [DirectoryEntry]
        do { entries = try volume.list(Self.statsDir) } catch let e as StoreError where e.code == .notFound { return [] }
        let stoppedHead = Array((Self.stoppedLine + "\n").utf8)
        var out: [(name: String, published: Date, stopped: Bool)] = []
        for e in entries.prefix(Self.maxStatsFiles) where e.attributes.kind == .file && e.name.hasPrefix(prefix) {
            let published = Date(timeIntervalSince1970: Double(e.attributes.modifiedNanoseconds) / 1e9)
            out.append((e.name, published, (try? firstBytes(try Self.statsDir.appending(e.name), stoppedHead.count)) == stoppedHead))
        }
        return out.sorted { $0.name < $1.name }
    }

    private func firstBytes(_ path: StorePath, _ count: Int) throws -> [UInt8] {
        let handle = try volume.openForReading(path)
        defer { handle.close() }
        return try handle.read(at: 0, count: count)
    }

    static let stoppedLine = "stopped"

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
        try? store.publishStats(name, stats.samples(), stopped: true)
    }
}
