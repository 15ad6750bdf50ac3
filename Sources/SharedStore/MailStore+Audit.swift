import Foundation
import Synchronization

/// The audit log (docs/store-layout.md): `.poplar/audit/<YYYY-MM-DD>/<ms>-<random>`, one `AuditEntry` per file,
/// made with an exclusive create, so writers on many hosts never interleave or lose an entry (an append to one
/// shared file over NFS could). The newest entries are read by listing the newest day folders only.
extension MailStore {
    static let auditDir = try! StorePath([".poplar", "audit"])
    /// The most entries one read returns.
    public static let maxAuditRead = 1000
    static let auditSequence = Mutex<UInt64>(0)

    public func appendAudit(_ entry: AuditEntry) throws {
        let day = Self.auditDay(entry.time)
        let dir = try Self.auditDir.appending(day)
        // The time, then this process's count (entries of one millisecond keep their order), then a random part.
        let sequence = Self.auditSequence.withLock { n -> UInt64 in
            n += 1
            return n
        }
        let name = String(format: "%013lld-%012llu-%016llx", PenaltyRecord.ms(entry.time), sequence, UInt64.random(in: 0...UInt64.max))
        do {
            try volume.writeFile(try dir.appending(name), entry.encoded(), exclusive: true)
        } catch let e as StoreError where e.code == .notFound {
            do { try volume.mkdir(Self.auditDir) } catch let e as StoreError where e.code == .alreadyExists {}
            do { try volume.mkdir(dir) } catch let e as StoreError where e.code == .alreadyExists {}
            try volume.writeFile(try dir.appending(name), entry.encoded(), exclusive: true)
        }
    }

    /// The newest `limit` entries, newest first: day folders from the newest, each listed once, files read only for
    /// the entries returned.
    public func recentAudit(limit: Int) throws -> [AuditEntry] {
        let want = min(max(limit, 0), Self.maxAuditRead)
        let days: [String]
        do {
            days = try volume.list(Self.auditDir).filter { $0.attributes.kind == .directory }.map(\.name).sorted(by: >)
        } catch let e as StoreError where e.code == .notFound {
            return []
        }
        var out: [AuditEntry] = []
        for day in days where out.count < want {
            let dir = try Self.auditDir.appending(day)
            let names = try volume.list(dir).filter { $0.attributes.kind == .file }.map(\.name).sorted(by: >)
            for name in names.prefix(want - out.count) {
                do {
                    if let entry = AuditEntry(decoding: try volume.readAll(try dir.appending(name), limit: AuditEntry.maxSize)) {
                        out.append(entry)
                    }
                } catch let e as StoreError where e.code == .notFound || e.code == .tooLarge {}
            }
        }
        return out
    }

    /// Removes the day folders older than `keepDays` days before `now` (a day is removed whole, never today's);
    /// returns how many entries went. Only names of the form YYYY-MM-DD are touched.
    @discardableResult
    public func pruneAudit(keepDays: Int, now: Date = Date()) throws -> Int {
        guard keepDays >= 1 else { throw StoreError(code: .invalidName, message: "keep at least 1 day of the audit log") }
        let cutoff = Self.auditDay(now.addingTimeInterval(-Double(keepDays) * 86_400))
        let days: [String]
        do {
            days = try volume.list(Self.auditDir).filter { $0.attributes.kind == .directory && Self.isAuditDay($0.name) }.map(\.name)
        } catch let e as StoreError where e.code == .notFound {
            return 0
        }
        var removed = 0
        for day in days where day < cutoff {
            let dir = try Self.auditDir.appending(day)
            removed += try volume.list(dir).filter { $0.attributes.kind == .file }.count
            try volume.removeTree(dir)
        }
        return removed
    }

    static func isAuditDay(_ name: String) -> Bool {
        let u = Array(name.utf8)
        return u.count == 10 && u[4] == 0x2D && u[7] == 0x2D && u.enumerated().allSatisfy { $0.offset == 4 || $0.offset == 7 || (0x30...0x39).contains($0.element) }
    }

    static func auditDay(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.string(from: date)
    }
}
