import Foundation
import Synchronization

/// What a heartbeat found (docs/lock-protocol.md, H1–H3).
public enum LockHeartbeat: Sendable, Equatable {
    /// The new record was read back from `kcol`: the window runs again from this heartbeat.
    case confirmed
    /// Not confirmed this time (store unreachable, a lock being put back); the window keeps running out.
    case unconfirmed(String)
    /// The window ran out or another holder's record is in `kcol`: the holder must stop.
    case lost(String)
}

/// The node instance's window a session is guarded by besides its own (the node rule): the epoch it began in.
struct NodeWindow: Sendable {
    let liveness: NodeLiveness
    let epoch: UInt64
    /// 0 once the instance's window ran out since the session began.
    var deadline: UInt64 { liveness.deadline(epoch: epoch) }
}

/// A lock this process holds in some lock directory (a mailbox's, or the coordinators' lease): its owner record,
/// the window of its last confirmed heartbeat, the heartbeat itself and the release. Heartbeat, guarded work and
/// release never run at the same time.
public final class HeldLock: Sendable {
    let store: MailStore
    let dir: StorePath

    private struct State {
        var owner: OwnerRecord
        var confirmedAt: UInt64
        var released = false
        var lost: String?
        /// A heartbeat write was issued (whatever came of it): one may still be in flight, so release takes R1–R3.
        var wroteHeartbeat = false
        /// The private name of an R0 that was started (R1 may have happened): a retry finishes from it.
        var quickClaim: StorePath?
    }
    private let state: Mutex<State>
    /// Serialises heartbeat, guarded work and release (each is a few blocking store calls on a pool thread).
    private let operation = Mutex(())

    /// The node instance's window (a session on a node), besides the lock's own.
    let node: NodeWindow?

    /// Whether a lock this holder leaves unreleased is noted for its instance to free (not for the freeing itself).
    private let notesLeftover: Bool

    init(store: MailStore, dir: StorePath, owner: OwnerRecord, confirmedAt: UInt64, node: NodeWindow? = nil, notesLeftover: Bool = true) {
        self.store = store
        self.dir = dir
        self.node = node
        self.notesLeftover = notesLeftover
        self.state = Mutex(State(owner: owner, confirmedAt: confirmedAt))
    }

    deinit {
        // Nobody can act on this lock any more: a record or a private name of it left on the store is a leftover.
        if let node, owner.live == node.liveness.instance {
            if notesLeftover, !state.withLock({ $0.released }) { node.liveness.noteLeftover(dir) }
            node.liveness.endSession(owner.session)
            if let claim = state.withLock({ $0.quickClaim }), let name = claim.name { node.liveness.endUsing(name: name) }
        }
    }

    public var owner: OwnerRecord { state.withLock { $0.owner } }

    /// How often the holder rewrites its record: a third of the lease.
    public var heartbeatInterval: UInt64 { store.lease.heartbeatNanoseconds }

    /// The instant (on the store's lease clock) after which the holder may issue no guarded step: the end of its own
    /// window, or of its node instance's if that comes first.
    var deadline: UInt64 {
        // A session that never heartbeats (the node rule) is guarded by its node instance's window alone.
        if let node, !owner.heartbeats { return node.deadline }
        return store.windowEnd(from: state.withLock { $0.confirmedAt }, node: node)
    }

    /// Why the holder lost its lock, once it has.
    public var lostReason: String? {
        let (lost, confirmedAt) = state.withLock { ($0.lost, $0.confirmedAt) }
        if let lost { return lost }
        let now = store.clock.now()
        if let node, now >= node.deadline { return "this node's liveness window ran out (no confirmed beat of its liveness record)" }
        if node != nil, !owner.heartbeats { return nil }
        return now >= confirmedAt + store.lease.windowNanoseconds ? "the lock's lease window ran out without a confirmed heartbeat" : nil
    }

    /// H1–H3: rewrites `kcol` in place with the next beat and reads it back. A session that never heartbeats (the
    /// node rule) only checks its node instance's window: no store call.
    public func heartbeat() -> LockHeartbeat {
        operation.withLock { _ in
            let (current, released) = state.withLock { ($0.owner, $0.released) }
            if released { return .lost("released") }
            if let reason = lostReason { return markLost(reason) }
            if node != nil, !current.heartbeats { return .confirmed }
            var next = current
            next.beat += 1
            let t = store.clock.now()
            let held: StorePath
            do {
                held = try dir.appending(MailStore.heldName)
                state.withLock { $0.wroteHeartbeat = true }
                try store.volume.overwriteExisting(held, next.encoded())
            } catch {
                return .unconfirmed("heartbeat write: \(error)")
            }
            guard let published = try? store.readRecord(held) else { return .unconfirmed("heartbeat read-back failed") }
            guard published.isSameHolder(as: current) else {
                return markLost("another holder's record is in the lock: \(published.node) since \(published.since)")
            }
            guard published.beat == next.beat else { return .unconfirmed("heartbeat read back an older beat") }
            state.withLock {
                $0.owner = next
                $0.confirmedAt = t
            }
            return .confirmed
        }
    }

    private func markLost(_ reason: String) -> LockHeartbeat {
        state.withLock { if $0.lost == nil { $0.lost = reason } }
        return .lost(reason)
    }

    /// Runs `body` while the lock is still this holder's (fencing: the published record is ours, U1) and inside
    /// its window; `body` gets the deadline to check before each further guarded step.
    /// A guarded step that needs only the window (docs/lock-protocol.md: every guarded step checks it right before it
    /// is issued), without `guarded`'s read of `kcol`: for a write nobody depends on, such as the access journal.
    func withinWindow<T>(_ what: String, _ body: (_ deadline: UInt64) throws -> T) throws -> T {
        try operation.withLock { _ in
            let (released, lost) = state.withLock { ($0.released, $0.lost) }
            let deadline = self.deadline
            guard !released, lost == nil, store.clock.now() < deadline else {
                throw StoreError(code: .inUse, message: "the lock of \(what) is no longer held by this holder: nothing done")
            }
            return try body(deadline)
        }
    }

    func guarded<T>(_ what: String, _ body: (_ deadline: UInt64) throws -> T) throws -> T {
        try operation.withLock { _ in
            let (owner, released, lost) = state.withLock { ($0.owner, $0.released, $0.lost) }
            let deadline = self.deadline
            guard !released, lost == nil, store.clock.now() < deadline, store.holds(dir: dir, record: owner) else {
                throw StoreError(code: .inUse, message: "the lock of \(what) is no longer held by this holder: nothing done")
            }
            return try body(deadline)
        }
    }

    /// R0 (inside the window, no heartbeat written) or R1–R3. Idempotent; after an error it may be called again:
    /// an R0 that failed is finished from its private name or followed by R1–R3, never tried again.
    public func release() throws {
        try operation.withLock { _ in
            let (owner, released, lost, wrote, quickClaim) = state.withLock { ($0.owner, $0.released, $0.lost, $0.wroteHeartbeat, $0.quickClaim) }
            guard !released else { return }
            let deadline = self.deadline
            if let claim = quickClaim {
                if try store.finishQuickRelease(dir: dir, claim: claim) {
                    state.withLock { $0.released = true }
                    return
                }
            } else if lost == nil, !wrote, store.clock.now() < deadline {
                let claim = try dir.appending(MailStore.privateName(for: owner))
                if let node, owner.live == node.liveness.instance, let name = claim.name { node.liveness.beginUsing(name: name) }
                state.withLock { $0.quickClaim = claim }
                do {
                    try store.releaseInWindow(dir: dir, claim: claim, deadline: deadline)
                    state.withLock { $0.released = true }
                    return
                } catch let e as StoreError where e.code == .inUse {
                    // The window ran out before R1 was issued: nothing happened; the full release below.
                    state.withLock { $0.quickClaim = nil }
                    if let node, let name = claim.name { node.liveness.endUsing(name: name) }
                }
            }
            try store.release(dir: dir, record: owner, node: node)
            state.withLock { $0.released = true }
        }
    }
}
