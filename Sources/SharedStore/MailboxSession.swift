import Foundation
import Synchronization

/// The lock held by one POP3 session, with the message list taken under it (numbers fixed for the session).
/// It keeps its lease alive (`heartbeat`, H1–H3), deletes only inside its window through a delete intent
/// (`commit`, U1–U4) and gives the lock back (`release`). These three never run at the same time.
public final class MailboxSession: Sendable {
    public enum Heartbeat: Sendable, Equatable {
        /// The new record was read back from `kcol`: the window runs again from this heartbeat.
        case confirmed
        /// Not confirmed this time (store unreachable, a lock being put back); the window keeps running out.
        case unconfirmed(String)
        /// The window ran out or another holder's record is in `kcol`: the session must end.
        case lost(String)
    }

    public let address: MailboxAddress
    public let messages: [MessageInfo]
    /// Taken over from a stale holder (a steal, not a free lock).
    public let tookOver: Bool
    /// Messages deleted at login by finishing a delete intent an earlier session left behind.
    public let finishedIntent: Int
    let store: MailStore
    let dir: StorePath

    private struct State {
        var owner: OwnerRecord
        var confirmedAt: UInt64
        var released = false
        var lost: String?
    }
    private let state: Mutex<State>
    /// Serialises heartbeat, commit and release (each is a few blocking store calls on a pool thread).
    private let operation = Mutex(())

    init(store: MailStore, address: MailboxAddress, dir: StorePath, owner: OwnerRecord, confirmedAt: UInt64,
         messages: [MessageInfo], tookOver: Bool, finishedIntent: Int) {
        self.store = store
        self.address = address
        self.dir = dir
        self.messages = messages
        self.tookOver = tookOver
        self.finishedIntent = finishedIntent
        self.state = Mutex(State(owner: owner, confirmedAt: confirmedAt))
    }

    public var owner: OwnerRecord { state.withLock { $0.owner } }

    /// How often the holder rewrites its record: a third of the lease.
    public var heartbeatInterval: UInt64 { store.lease.heartbeatNanoseconds }

    /// The instant (on the store's lease clock) after which this session may issue no guarded step.
    var deadline: UInt64 { state.withLock { $0.confirmedAt } + store.lease.windowNanoseconds }

    /// Why the session lost its lock, once it has.
    public var lostReason: String? {
        let (lost, deadline) = state.withLock { ($0.lost, $0.confirmedAt + store.lease.windowNanoseconds) }
        if let lost { return lost }
        return store.clock.now() >= deadline ? "the lock's lease window ran out without a confirmed heartbeat" : nil
    }

    public func openMessage(_ message: MessageInfo) throws -> any VolumeReadHandle {
        try store.volume.openForReading(try dir.appending(message.fileName))
    }

    /// H1–H3: rewrites `kcol` in place with the next beat and reads it back.
    public func heartbeat() -> Heartbeat {
        operation.withLock { _ in
            let (current, released) = state.withLock { ($0.owner, $0.released) }
            if released { return .lost("released") }
            if let reason = lostReason { return markLost(reason) }
            var next = current
            next.beat += 1
            let t = store.clock.now()
            let held: StorePath
            do {
                held = try dir.appending(MailStore.heldName)
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

    private func markLost(_ reason: String) -> Heartbeat {
        state.withLock { if $0.lost == nil { $0.lost = reason } }
        return .lost(reason)
    }

    /// RFC 1939 §6 UPDATE, U1–U4: checks the lock is still ours (fencing), writes the delete intent, deletes,
    /// removes the intent; every step only inside the window. Does not release. Nothing is deleted if the lock
    /// is no longer this session's; if the window runs out halfway, the intent stays for the next holder.
    public func commit(deleting: [MessageInfo]) throws {
        try operation.withLock { _ in
            let (owner, released, lost) = state.withLock { ($0.owner, $0.released, $0.lost) }
            let deadline = self.deadline
            guard !released, lost == nil, store.clock.now() < deadline, store.holds(dir: dir, record: owner) else {
                throw StoreError(code: .inUse, message: "the mailbox lock of \(address) is no longer held by this session: nothing deleted")
            }
            guard !deleting.isEmpty else { return }
            try store.checkWindow(deadline)
            try store.writeIntent(dir: dir, names: deleting.map(\.fileName))
            for m in deleting {
                try store.checkWindow(deadline)
                try store.volume.unlinkChecked(try dir.appending(m.fileName))
            }
            try store.checkWindow(deadline)
            try store.volume.unlinkChecked(try dir.appending(MailStore.intentName))
            try store.volume.fsyncDirectory(dir)
        }
    }

    /// R1–R3. Idempotent.
    public func release() throws {
        try operation.withLock { _ in
            let (owner, released) = state.withLock { ($0.owner, $0.released) }
            guard !released else { return }
            try store.release(dir: dir, record: owner)
            state.withLock { $0.released = true }
        }
    }
}
