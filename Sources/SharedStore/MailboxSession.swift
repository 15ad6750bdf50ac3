import Foundation
import Synchronization

/// The lock held by one POP3 session, with the message list taken under it (numbers fixed for the session).
/// Its `HeldLock` keeps the lease alive (`heartbeat`, H1–H3); `commit` deletes only inside the window through a
/// delete intent (U1–U4); `release` gives the lock back.
public final class MailboxSession: Sendable {
    public typealias Heartbeat = LockHeartbeat

    public let address: MailboxAddress
    public let messages: [MessageInfo]
    /// Taken over from a stale holder (a steal, not a free lock).
    public let tookOver: Bool
    /// Messages deleted at login by finishing a delete intent an earlier session left behind.
    public let finishedIntent: Int
    /// Messages past the domain's retention period (EXPIRE): not in `messages`, deleted at UPDATE.
    public let expired: [MessageInfo]
    public let lock: HeldLock
    let store: MailStore
    let dir: StorePath
    /// The access journal's size (-1: none), from the listing taken at login and then from this session's own
    /// appends, so an append needs no lookup; nil: unknown (after a failed append). Only a holder of the lock appends.
    let journalSize: Mutex<Int64?>

    init(store: MailStore, address: MailboxAddress, dir: StorePath, lock: HeldLock, messages: [MessageInfo], tookOver: Bool, finishedIntent: Int,
         expired: [MessageInfo] = [], journalSize: Int64? = nil) {
        self.journalSize = Mutex(journalSize)
        self.expired = expired
        self.store = store
        self.address = address
        self.dir = dir
        self.lock = lock
        self.messages = messages
        self.tookOver = tookOver
        self.finishedIntent = finishedIntent
    }

    public var owner: OwnerRecord { lock.owner }
    public var heartbeatInterval: UInt64 { lock.heartbeatInterval }
    public var lostReason: String? { lock.lostReason }
    public func heartbeat() -> Heartbeat { lock.heartbeat() }
    /// Idempotent.
    public func release() throws { try lock.release() }

    public func openMessage(_ message: MessageInfo) throws -> any VolumeReadHandle {
        try store.volume.openForReading(try dir.appending(message.fileName))
    }

    /// RFC 1939 §6 UPDATE, U1–U4: checks the lock is still ours (fencing), writes the delete intent, deletes,
    /// removes the intent; every step only inside the window. Does not release. Nothing is deleted if the lock
    /// is no longer this session's; if the window runs out halfway, the intent stays for the next holder.
    public func commit(deleting: [MessageInfo]) throws {
        try lock.guarded("mailbox \(address)") { deadline in
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
}
