import Foundation
import Synchronization

/// What a node instance writes into `.poplar/live/<instance>` at every beat (docs/lock-protocol.md, "The node
/// rule"): its node id, its instance id, the process (`ProcessIncarnation`), a beat counter and a fresh random field.
/// Records never repeat, so an observer that reads the same bytes twice knows nothing was written in between. Every
/// record of one instance has the same length (the counter and the random field are fixed-width), so a rewrite in
/// place never leaves a tail of the one before.
public struct LivenessRecord: Sendable, Equatable {
    /// A record is about 200 bytes; a larger file is not one (damaged, or not ours): read as unreadable bytes.
    public static let maxSize = 1024

    public var node: String
    public var instance: String
    public var incarnation: ProcessIncarnation?
    public var beat: UInt64

    public init(node: String, instance: String, incarnation: ProcessIncarnation?, beat: UInt64) {
        self.node = node
        self.instance = instance
        self.incarnation = incarnation
        self.beat = beat
    }

    public func encoded() -> [UInt8] {
        let counter = String(beat), w = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        var text = "node=\(MailStore.nodeLabel(node))\ninstance=\(instance)\n"
        if let incarnation { text += "proc=\(incarnation)\n" }
        text += "beat=\(String(repeating: "0", count: max(0, 20 - counter.count)))\(counter)\n"
        return Array((text + "w=\(String(repeating: "0", count: 16 - w.count))\(w)\n").utf8)
    }

    /// Nil for anything that is not a whole record (a file on the NAS is data, whoever wrote it).
    public init?(decoding bytes: [UInt8]) {
        guard bytes.count <= Self.maxSize else { return nil }
        var fields: [Substring: Substring] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            fields[line[..<eq]] = line[line.index(after: eq)...]
        }
        guard let node = fields["node"], let instance = fields["instance"], NodeLiveness.isInstanceID(instance),
            let beat = fields["beat"].flatMap({ UInt64($0) })
        else { return nil }
        self.init(node: String(node), instance: String(instance), incarnation: fields["proc"].flatMap { ProcessIncarnation(parsing: $0) },
                  beat: beat)
    }
}

/// A node instance's liveness (docs/decisions/0013, the node rule): its record in `.poplar/live/<instance>` is the
/// heartbeat of every session it holds. A beat rewrites the record and reads it back; a beat confirmed opens the
/// instance's window `W = L/2`, measured from the instant the write was *issued*. Every session of the instance is
/// guarded by that window: when it runs out (no confirmed beat for `W`), the sessions that were open are lost for
/// good — a later confirmed beat does not revive them (a freeze could have let a stealer in meanwhile); logins wait
/// until a beat is confirmed again. An instance is one run of a node: a node restarted under the same id is a new
/// instance, so its predecessor's record stops changing and that predecessor's locks go stale for every node a lease
/// later; the restarted node itself takes them back at once (it can see its predecessor's process is dead).
public final class NodeLiveness: Sendable {
    public let node: String
    /// 16 lowercase hex digits, new for every instance.
    public let instance: String
    let clock: any LeaseClock
    let window: UInt64

    private struct State {
        /// When the last confirmed beat was issued (nil: none yet).
        var confirmedIssue: UInt64?
        /// Grows at every lapse: a session belongs to the epoch it began in and is lost when the epoch changes.
        var epoch: UInt64 = 0
        var beat: UInt64 = 0
        var lapses: UInt64 = 0
    }
    private let state = Mutex(State())
    /// Private lock names this instance is using right now (a take, a steal or a release in progress) and the
    /// sessions that hold a lock: a name or a record of this instance that is in neither is a leftover nobody will
    /// act on, and this instance reclaims it at once.
    private let names = Mutex<Set<String>>([])
    private let sessions = Mutex<Set<String>>([])
    /// Mailboxes whose lock a session of this instance may have left behind (it ended without a completed release:
    /// after a lapse its R3 is refused). Nobody else may take such a lock while this instance lives, so the instance
    /// frees them itself once its window is open again (`MailStore.freeLeftovers`). Value: attempts so far.
    private let leftovers = Mutex<[String: (dir: StorePath, attempts: Int)]>([:])
    static let maxLeftovers = 100_000
    static let maxLeftoverAttempts = 10

    public init(node: String, lease: LockLease, clock: any LeaseClock = BootTimeClock(), instance: String? = nil) {
        self.node = node
        self.instance = instance ?? Self.newInstanceID()
        self.clock = clock
        self.window = lease.windowNanoseconds
    }

    static func newInstanceID() -> String {
        let hex = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// 16 lowercase hex digits: an instance id (a name on the NAS is data, whoever wrote it).
    static func isInstanceID(_ text: some StringProtocol) -> Bool {
        text.utf8.count == 16 && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    // MARK: The window

    /// The instant after which the sessions of `epoch` may issue no guarded step (0: lost already).
    func deadline(epoch: UInt64) -> UInt64 {
        state.withLock { s in
            guard s.epoch == epoch, let issued = s.confirmedIssue else { return 0 }
            return issued + window
        }
    }

    /// The epoch a new session begins in; `unavailable` while the window is closed (no beat confirmed in `W`).
    func sessionEpoch() throws -> UInt64 {
        let now = clock.now()
        return try state.withLock { s in
            guard let issued = s.confirmedIssue, now < issued + window else {
                throw StoreError(code: .unavailable, message: "this node could not confirm its liveness record on the store: no login until it does")
            }
            return s.epoch
        }
    }

    /// A beat issued at `issued` was read back. If the window had run out before this confirmation arrived, the
    /// sessions that were open are lost for good (the epoch moves on); the window then runs from `issued`.
    func confirm(issued: UInt64) {
        let now = clock.now()
        state.withLock { s in
            if let last = s.confirmedIssue, now >= last + window {
                s.epoch += 1
                s.lapses += 1
            }
            s.confirmedIssue = max(s.confirmedIssue ?? 0, issued)
        }
    }

    /// How many times the window ran out while this instance ran (a metric and a log line for the node).
    public var lapses: UInt64 { state.withLock { $0.lapses } }

    /// Whether logins are admitted now.
    public var isOpen: Bool {
        let now = clock.now()
        return state.withLock { s in s.confirmedIssue.map { now < $0 + window } ?? false }
    }

    func nextRecord() -> LivenessRecord {
        let beat = state.withLock { s -> UInt64 in
            s.beat += 1
            return s.beat
        }
        return LivenessRecord(node: node, instance: instance, incarnation: ProcessIncarnation.current, beat: beat)
    }

    // MARK: What this instance is doing

    func beginUsing(name: String) { _ = names.withLock { $0.insert(name) } }
    func endUsing(name: String) { _ = names.withLock { $0.remove(name) } }
    func isUsing(name: String) -> Bool { names.withLock { $0.contains(name) } }
    func beginSession(_ id: String) { _ = sessions.withLock { $0.insert(id) } }
    func endSession(_ id: String) { _ = sessions.withLock { $0.remove(id) } }
    func holdsSession(_ id: String) -> Bool { sessions.withLock { $0.contains(id) } }

    func noteLeftover(_ dir: StorePath, attempts: Int = 0) {
        leftovers.withLock { table in
            guard attempts < Self.maxLeftoverAttempts, table.count < Self.maxLeftovers || table[dir.description] != nil else { return }
            table[dir.description] = (dir, max(attempts, table[dir.description]?.attempts ?? 0))
        }
    }

    func takeLeftovers() -> [(dir: StorePath, attempts: Int)] {
        leftovers.withLock { table in
            defer { table.removeAll() }
            return Array(table.values)
        }
    }

    /// Mailboxes waiting to be freed (tests, metrics).
    public var leftoverCount: Int { leftovers.withLock { $0.count } }
}
