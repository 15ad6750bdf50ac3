import Synchronization

/// What this process has seen of node instances' liveness records (`.poplar/live/<instance>`): the bytes (nil:
/// absent) and when it first saw exactly those, on its own clock. An instance whose record was seen unchanged (or
/// absent) for a whole lease is dead: none of its sessions can issue a guarded step any more (the node rule,
/// docs/lock-protocol.md). A node refreshes every instance at each of its beats, so the clock for a dead instance
/// starts within one beat of its last write, whenever a client comes; any process also refreshes the instances a
/// lock it looks at names. Bounded: past `maxEntries` the oldest sightings are forgotten, which only delays a
/// takeover, never hastens one.
final class LivenessWatch: Sendable {
    static let maxEntries = 10_000

    private struct Sighting {
        var bytes: [UInt8]?
        var firstSeen: UInt64
    }
    private let table = Mutex<[String: Sighting]>([:])

    /// Records what was read of `instance` at `now`; returns for how long (nanoseconds) exactly this has been seen.
    @discardableResult
    func sight(_ instance: String, bytes: [UInt8]?, now: UInt64) -> UInt64 {
        table.withLock { t in
            if let seen = t[instance], seen.bytes == bytes {
                return now >= seen.firstSeen ? now - seen.firstSeen : 0
            }
            if t.count >= Self.maxEntries, t[instance] == nil {
                for (key, _) in t.sorted(by: { $0.value.firstSeen < $1.value.firstSeen }).prefix(Self.maxEntries / 10) { t[key] = nil }
            }
            t[instance] = Sighting(bytes: bytes, firstSeen: now)
            return 0
        }
    }

    /// Instances with a sighting (present or absent).
    var instances: [String] { table.withLock { Array($0.keys) } }

    /// For how long the record was seen unchanged, without a new read (nil: never seen).
    func age(_ instance: String, now: UInt64) -> UInt64? {
        table.withLock { t in t[instance].map { now >= $0.firstSeen ? now - $0.firstSeen : 0 } }
    }

    func forget(_ instance: String) {
        _ = table.withLock { $0.removeValue(forKey: instance) }
    }
}
