import Foundation
import SharedStore

/// A mailbox's lock as an administrator acts on it: end the session holding it (on whatever node), remove the
/// administrator's lock, break a dead holder's lock. The CLI's `cluster kick` and `mailbox unlock [--force]` and the
/// console's mailbox page call these.
extension AdminOperations {
    public func lockState(_ text: String) throws -> (MailboxAddress, LockState) {
        let address = try parseAddress(text)
        return (address, try call("cannot read the lock of \(address)") { try store.lockState(address) })
    }

    /// Asks the node holding the mailbox to end that session (at its next registry update; nothing is deleted). nil
    /// when no session holds it. `session`: the session the caller saw; another one holding it now is refused, so a
    /// kick never ends a session nobody looked at.
    public func kick(_ text: String, session expected: String? = nil, by actor: AdminActor) throws -> OwnerRecord? {
        let (address, state) = try lockState(text)
        guard case .session(let holder) = state else {
            if expected != nil { throw AdminError(.notFound, "\(address) is not held by a session any more") }
            return nil
        }
        if let expected, expected != holder.session {
            throw AdminError(.notFound, "session \(expected) no longer holds \(address) (session \(holder.session) on node \(holder.node) does)")
        }
        try call("cannot ask node \(holder.node) to end session \(holder.session)") {
            try store.requestKick(node: holder.node, session: holder.session)
        }
        try audit(actor, "mailbox.kick", address.description, detail: "node=\(holder.node) session=\(holder.session)")
        return holder
    }

    /// Removes the administrator's lock (`mailbox unlock`); refused when a session holds the mailbox.
    @discardableResult
    public func unlock(_ text: String, by actor: AdminActor) throws -> MailboxAddress {
        let (address, state) = try lockState(text)
        guard case .admin = state else {
            throw AdminError(.invalid, "\(address) is not locked by the administrator")
        }
        try call("cannot unlock \(address)") { try store.adminUnlock(address) }
        try audit(actor, "mailbox.unlock", address.description)
        return address
    }

    /// Breaks the lock of a dead holder (`mailbox unlock --force`): watches it for one lease (`wait` is called with
    /// the seconds, blocking) and breaks it only if its holder did not show life meanwhile; a live session is never
    /// broken. An administrator's lock is removed at once. False if the mailbox was not locked.
    public func forceUnlock(_ text: String, by actor: AdminActor, holder: String, wait: (_ seconds: Double) -> Void) throws -> Bool {
        let address = try parseAddress(text)
        let broke = try call("cannot unlock \(address)") { try store.forceUnlock(address, by: holder, wait: wait) }
        if broke { try audit(actor, "mailbox.force-unlock", address.description) }
        return broke
    }

    /// One lease of the cluster's locks in seconds: what `forceUnlock` waits.
    public var leaseSeconds: Double { Double(store.lease.milliseconds) / 1000 }
}
