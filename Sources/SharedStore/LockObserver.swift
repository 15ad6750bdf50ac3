import Synchronization

/// What this process has seen of the mailbox locks it could not take: the lock name and its record bytes, and
/// when it first saw exactly those (on its own clock). A lock seen unchanged for a whole lease is stale
/// (docs/lock-protocol.md, O2). Bounded: past `maxEntries` the oldest observations are forgotten, which only
/// delays a takeover, never hastens one.
final class LockObserver: Sendable {
    static let maxEntries = 10_000

    struct Sighting: Sendable, Equatable {
        var name: String
        var bytes: [UInt8]
    }

    private struct Entry {
        var sighting: Sighting
        var firstSeen: UInt64
    }

    private let entries = Mutex<[String: Entry]>([:])

    /// Records `sighting` of the lock of `mailbox` at `now`; true when the very same was first seen at least
    /// `lease` nanoseconds ago.
    func isStale(mailbox: String, _ sighting: Sighting, now: UInt64, lease: UInt64) -> Bool {
        entries.withLock { table in
            if let seen = table[mailbox], seen.sighting == sighting {
                return now >= seen.firstSeen && now - seen.firstSeen >= lease
            }
            if table.count >= Self.maxEntries, table[mailbox] == nil {
                let oldest = table.sorted { $0.value.firstSeen < $1.value.firstSeen }.prefix(Self.maxEntries / 10)
                for (key, _) in oldest { table[key] = nil }
            }
            table[mailbox] = Entry(sighting: sighting, firstSeen: now)
            return false
        }
    }

    func forget(mailbox: String) {
        _ = entries.withLock { $0.removeValue(forKey: mailbox) }
    }
}
