import Foundation
import POP3Core
import SharedStore

/// The admin operations on the store, one implementation for the command line and the console (docs/console.md):
/// each validates its input, does the change on the `MailStore`, and records it in the audit log. Every method
/// blocks (store I/O, the password KDF): the console calls them on its thread pool, never on an event loop.
public struct AdminOperations: Sendable {
    public let store: MailStore

    public init(store: MailStore) {
        self.store = store
    }

    // MARK: Domains

    public func domains() throws -> [String] {
        try call("cannot list domains") { try store.domainPolicies().keys.sorted() }
    }

    public func domainPolicies() throws -> [String: DomainPolicy] {
        try call("cannot list domains") { try store.domainPolicies() }
    }

    @discardableResult
    public func addDomain(_ text: String, by actor: AdminActor) throws -> String {
        let name = try call("invalid domain") { try Names.validateDomain(text) }
        try call("cannot add \(name)") { try store.addDomain(name) }
        try audit(actor, "domain.add", name)
        return name
    }

    @discardableResult
    public func removeDomain(_ text: String, purge: Bool, by actor: AdminActor) throws -> String {
        let name = try call("invalid domain") { try Names.validateDomain(text) }
        try call("cannot remove \(name)") { try store.removeDomain(name, purge: purge) }
        try audit(actor, purge ? "domain.purge" : "domain.remove", name)
        return name
    }

    // MARK: Mailboxes

    /// Every mailbox of `domain`, or of every domain when nil (the CLI's `mailbox list`).
    public func mailboxes(in domain: String?) throws -> [MailboxAddress] {
        let domains: [String]
        if let domain {
            let name = try call("invalid domain") { try Names.validateDomain(domain) }
            guard try call("cannot read the metabase", { try store.isDomainAccepted(name) }) else {
                throw AdminError(.notFound, "domain \(name) is not in the metabase")
            }
            domains = [name]
        } else {
            domains = try self.domains()
        }
        var all: [MailboxAddress] = []
        for d in domains { all += try call("cannot list \(d)") { try store.mailboxes(in: d) } }
        return all
    }

    /// One page of a domain's mailboxes (`MailboxPage`): from one listing of the domain's folder, no mailbox's
    /// own files read, so a page costs the same at 100,000 mailboxes as at 10.
    public func mailboxPage(domain: String, search: String, after: String?, limit: Int) throws -> MailboxPage {
        let name = try call("invalid domain") { try Names.validateDomain(domain) }
        guard search.count <= AdminLimits.maxSearchLength else {
            throw AdminError(.invalid, "the search is longer than \(AdminLimits.maxSearchLength) characters")
        }
        let all = try call("cannot list \(name)") { try store.mailboxes(in: name) }
        return MailboxPage.slice(all.map(\.mailbox), domain: name, search: search, after: after, limit: limit)
    }

    public func parseAddress(_ text: String) throws -> MailboxAddress {
        guard text.utf8.count <= AdminLimits.maxAddressLength else { throw AdminError(.invalid, "the address is too long") }
        return try call("invalid mailbox address \(LogSafeText.escaped(text))") { try MailboxAddress(parsing: text) }
    }

    /// `password` nil: an external mailbox (its account in the directory). The password is prepared as a
    /// session prepares what it receives (`preparePassword`).
    @discardableResult
    public func addMailbox(_ text: String, password: String?, allowAPOP: Bool, quota: Int64?, by actor: AdminActor) throws -> MailboxAddress {
        let address = try parseAddress(text)
        if password == nil && allowAPOP { throw AdminError(.invalid, "APOP needs a password record; an external mailbox has none") }
        let prepared = try password.map(Self.preparePassword)
        try call("cannot create \(address)") {
            try store.createMailbox(address, password: prepared, allowAPOP: allowAPOP, quota: quota == 0 ? nil : quota)
        }
        try audit(actor, "mailbox.add", address.description, detail: quota.map { $0 > 0 ? "quota=\($0)" : "" } ?? "")
        return address
    }

    @discardableResult
    public func removeMailbox(_ text: String, by actor: AdminActor) throws -> MailboxAddress {
        let address = try parseAddress(text)
        try call("cannot remove \(address)") { try store.removeMailbox(address) }
        try audit(actor, "mailbox.remove", address.description)
        return address
    }

    @discardableResult
    public func resetPassword(_ text: String, password: String, allowAPOP: Bool, by actor: AdminActor) throws -> MailboxAddress {
        let address = try parseAddress(text)
        let prepared = try Self.preparePassword(password)
        try call("cannot set the password of \(address)") { try store.setPassword(address, password: prepared, allowAPOP: allowAPOP) }
        try audit(actor, "mailbox.passwd", address.description, detail: allowAPOP ? "apop" : "")
        return address
    }

    /// nil or 0: no quota.
    @discardableResult
    public func setQuota(_ text: String, _ quota: Int64?, by actor: AdminActor) throws -> MailboxAddress {
        let address = try parseAddress(text)
        let limit = quota.flatMap { $0 > 0 ? $0 : nil }
        try call("cannot set the quota of \(address)") { try store.setQuota(address, limit) }
        try audit(actor, "mailbox.quota", address.description, detail: limit.map { "quota=\($0)" } ?? "quota=none")
        return address
    }

    public func mailboxInfo(_ text: String) throws -> MailboxInfo {
        let address = try parseAddress(text)
        return try call("cannot read \(address)") { try store.mailboxInfo(address) }
    }

    /// The mailbox's newest sessions from its access journal (`pop3.access-journal`), newest first: what the
    /// console's mailbox page shows and `poplar mailbox journal` prints in full.
    public func recentSessions(_ text: String, limit: Int = AdminLimits.recentSessions) throws -> [AccessRecord] {
        let address = try parseAddress(text)
        return Array(try call("cannot read the journal of \(address)") { try store.journal(address) }.suffix(limit).reversed())
    }

    // MARK: Passwords

    /// RFC 8265 §4.2 (OpaqueString), as a session that sent UTF8 prepares what it receives (RFC 6856): the same
    /// password typed in another Unicode normalization form still matches. ASCII passwords are unchanged.
    public static func preparePassword(_ text: String) throws -> String {
        guard !text.isEmpty else { throw AdminError(.invalid, "the password is empty") }
        guard text.utf8.count <= AdminLimits.maxPasswordBytes else {
            throw AdminError(.invalid, "password longer than \(AdminLimits.maxPasswordBytes) bytes")
        }
        guard let prepared = PRECISOpaqueString.enforce(text) else {
            throw AdminError(.invalid, "the password holds characters RFC 8265 does not allow in passwords (controls, unassigned or invisible characters)")
        }
        return prepared
    }

    // MARK: Audit

    func audit(_ actor: AdminActor, _ action: String, _ target: String, detail: String = "") throws {
        try call("done, but the audit log was not written") {
            try store.appendAudit(AuditEntry(who: actor.who, from: actor.from, action: action, target: target, detail: detail))
        }
    }

    /// Removes the audit log's days older than `keepDays` (the removal itself is the newest entry).
    @discardableResult
    public func pruneAudit(keepDays: Int, by actor: AdminActor) throws -> Int {
        let removed = try call("cannot prune the audit log") { try store.pruneAudit(keepDays: keepDays) }
        try audit(actor, "audit.prune", "audit", detail: "keep-days=\(keepDays) removed=\(removed)")
        return removed
    }

    public func recentAudit(limit: Int) throws -> [AuditEntry] {
        try call("cannot read the audit log") { try store.recentAudit(limit: limit) }
    }

    /// A store call whose failure becomes an `AdminError` prefixed with `what`.
    func call<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as AdminError {
            throw error
        } catch let error as StoreError {
            let kind: AdminError.Kind
            switch error.code {
            case .notFound: kind = .notFound
            case .alreadyExists: kind = .alreadyExists
            case .invalidName: kind = .invalid
            default: kind = .store
            }
            throw AdminError(kind, "\(what): \(error.message)")
        } catch let refusal as LockRefusal {
            let when = ISO8601DateFormatter()
            switch refusal {
            case .inUse(let owner):
                throw AdminError(.inUse, "\(what): the mailbox is in use by a session on node \(owner.node) since \(when.string(from: owner.since))")
            case .adminLocked(let owner):
                throw AdminError(.inUse, "\(what): the mailbox is locked by the administrator (\(owner.node)) since \(when.string(from: owner.since))")
            }
        }
    }
}
