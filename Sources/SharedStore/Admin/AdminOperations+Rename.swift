import SharedStore

/// Renames (the seed's rename of a domain or a mailbox), for the CLI's `domain rename` and `mailbox rename` and the
/// console's forms. Each is refused while a session holds a mailbox it moves, and audited.
extension AdminOperations {
    /// Every mailbox of `old` moves to `new`; returns the two names and how many mailboxes moved.
    @discardableResult
    public func renameDomain(_ old: String, to new: String, by actor: AdminActor) throws -> (from: String, to: String, moved: Int) {
        let from = try call("invalid domain") { try Names.validateDomain(old) }
        let to = try call("invalid new domain name") { try Names.validateDomain(new) }
        let moved = try call("cannot rename \(from)") { try store.renameDomain(from, to: to) }
        try audit(actor, "domain.rename", from, detail: "to=\(to) mailboxes=\(moved)")
        return (from, to, moved)
    }

    /// The mailbox, its messages, password and keys move to the new name.
    @discardableResult
    public func renameMailbox(_ old: String, to new: String, by actor: AdminActor) throws -> (from: MailboxAddress, to: MailboxAddress) {
        let from = try parseAddress(old), to = try parseAddress(new)
        try call("cannot rename \(from)") { try store.renameMailbox(from, to: to) }
        try audit(actor, "mailbox.rename", from.description, detail: "to=\(to)")
        return (from, to)
    }
}
