import Foundation

/// Who holds a mailbox: written into the held lock file, readable by everyone (`[IN-USE]`, `poplar mailbox show`).
/// Text `key=value` lines, bounded to `maxSize` bytes.
public struct OwnerRecord: Sendable, Equatable {
    public enum Kind: String, Sendable { case session, admin }

    public static let maxSize = 4096

    public var kind: Kind
    public var node: String
    public var session: String
    /// Wall clock, for display only: staleness never compares clocks of different machines.
    public var since: Date
    /// Heartbeat counter: the lease work rewrites the record with `beat + 1` while the session lives.
    public var beat: UInt64
    /// The process holding it (cluster leases), so a restart of the same holder can tell its dead predecessor.
    public var incarnation: ProcessIncarnation?
    /// The node instance whose liveness record guards this session (the node rule, docs/lock-protocol.md): nil for
    /// a holder guarded by its own heartbeat alone (the coordinators' lease, the CLI, a node of an earlier version).
    public var live: String?
    /// False for a session of a node instance under the cluster's `node` lock rule: it never rewrites this record, and
    /// only the node rule may take it over (`hb=no`; absent: it heartbeats).
    public var heartbeats: Bool

    public init(kind: Kind, node: String, session: String, since: Date, beat: UInt64 = 0, incarnation: ProcessIncarnation? = nil,
                live: String? = nil, heartbeats: Bool = true) {
        self.live = live
        self.heartbeats = heartbeats
        self.kind = kind
        self.node = node
        self.session = session
        // Whole milliseconds, so that a record survives encoding unchanged.
        self.since = Date(timeIntervalSince1970: (since.timeIntervalSince1970 * 1000).rounded() / 1000)
        self.beat = beat
        self.incarnation = incarnation
    }

    public func encoded() -> [UInt8] {
        let ms = Int64((since.timeIntervalSince1970 * 1000).rounded())
        // `w` is new at every write: a record's bytes never repeat, even torn by a read that overlaps a rewrite, so
        // an observer cannot see "the same bytes a lease apart" while the holder lives (docs/lock-protocol.md).
        let w = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        var text = "kind=\(kind.rawValue)\nnode=\(Self.clean(node))\nsession=\(Self.clean(session))\nsince=\(ms)\nbeat=\(beat)\n"
        if let incarnation { text += "proc=\(incarnation)\n" }
        if let live { text += "live=\(live)\n" }
        if !heartbeats { text += "hb=no\n" }
        return Array((text + "w=\(String(repeating: "0", count: 16 - w.count))\(w)\n").utf8)
    }

    public init(decoding bytes: [UInt8]) throws {
        guard bytes.count <= Self.maxSize else { throw StoreError(code: .corrupt, message: "owner record too large") }
        var fields: [Substring: Substring] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            fields[line[..<eq]] = line[line.index(after: eq)...]
        }
        guard let kind = fields["kind"].flatMap({ Kind(rawValue: String($0)) }), let node = fields["node"],
            let session = fields["session"], let since = fields["since"].flatMap({ Int64($0) })
        else { throw StoreError(code: .corrupt, message: "owner record is incomplete") }
        self.init(kind: kind, node: String(node), session: String(session),
                  since: Date(timeIntervalSince1970: Double(since) / 1000), beat: fields["beat"].flatMap { UInt64($0) } ?? 0,
                  incarnation: fields["proc"].flatMap { ProcessIncarnation(parsing: $0) },
                  live: fields["live"].flatMap { NodeLiveness.isInstanceID($0) ? String($0) : nil }, heartbeats: fields["hb"] != "no")
    }

    /// Stands for a holder whose record cannot be read yet (a lock being taken or released right now).
    public static func unknownHolder() -> OwnerRecord {
        OwnerRecord(kind: .session, node: "unknown", session: "", since: Date())
    }

    /// Same holder (the heartbeat counter aside).
    public func isSameHolder(as other: OwnerRecord) -> Bool {
        kind == other.kind && node == other.node && session == other.session && since == other.since
    }

    private static func clean(_ s: String) -> String {
        String(s.unicodeScalars.filter { $0.value >= 0x20 && $0 != "=" }.prefix(200).map(Character.init))
    }
}

/// What the lock names of a mailbox say.
public enum LockState: Sendable, Equatable {
    case free
    case session(OwnerRecord)
    case admin(OwnerRecord)
    /// Only a private `kcol.<node>.<nonce>` exists: being taken or released right now (or its taker died there).
    case claiming(OwnerRecord?)
    /// No lock name at all: the mailbox is damaged.
    case missing
}
