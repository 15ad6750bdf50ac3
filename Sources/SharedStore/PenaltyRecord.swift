import Foundation

/// The failed logins of one client network or one login name, shared by every node through the store
/// (docs/security.md, "The auth penalty"): how many failures in a row, when the last one was, and the time before
/// which the next check from that network (or for that name) may not run: the slot the last attempt reserved. A
/// network's record also names (by a short tag) the login name it failed on last and how many times in a row.
/// Text, at most `maxSize` bytes; anything else reads as no record.
public struct PenaltyRecord: Sendable, Equatable {
    public static let maxSize = 192
    /// More failures than this add nothing (the delay reached its maximum long before).
    public static let maxFailures = 1_000_000

    public var failures: Int
    public var lastFailure: Date
    public var nextSlot: Date
    /// A network's last failed name (a tag, 0 for none) and its failures on that name in a row.
    public var nameTag: UInt32
    public var nameFailures: Int

    public init(failures: Int, lastFailure: Date, nextSlot: Date, nameTag: UInt32 = 0, nameFailures: Int = 0) {
        self.failures = min(max(failures, 0), Self.maxFailures)
        self.lastFailure = lastFailure
        self.nextSlot = nextSlot
        self.nameTag = nameTag
        self.nameFailures = min(max(nameFailures, 0), Self.maxFailures)
    }

    public func encoded() -> [UInt8] {
        Array("failures=\(failures)\nlast=\(Self.ms(lastFailure))\nnext=\(Self.ms(nextSlot))\ntag=\(nameTag)\nnamefailures=\(nameFailures)\n".utf8)
    }

    public init?(decoding bytes: [UInt8]) {
        guard bytes.count <= Self.maxSize, let text = String(validating: bytes, as: UTF8.self) else { return nil }
        var fields: [Substring: Int64] = [:]
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "="), let value = Int64(line[line.index(after: eq)...]) else { return nil }
            fields[line[..<eq]] = value
        }
        guard let failures = fields["failures"], (0...Int64(Self.maxFailures)).contains(failures),
            let last = fields["last"], let next = fields["next"], last >= 0, next >= 0,
            let tag = UInt32(exactly: fields["tag"] ?? 0), let nameFailures = fields["namefailures"] ?? 0 as Int64?,
            (0...Int64(Self.maxFailures)).contains(nameFailures)
        else { return nil }
        self.init(failures: Int(failures), lastFailure: Self.date(last), nextSlot: Self.date(next), nameTag: tag,
                  nameFailures: Int(nameFailures))
    }

    static func ms(_ d: Date) -> Int64 { Int64((d.timeIntervalSince1970 * 1000).rounded()) }
    static func date(_ ms: Int64) -> Date { Date(timeIntervalSince1970: Double(ms) / 1000) }
}
