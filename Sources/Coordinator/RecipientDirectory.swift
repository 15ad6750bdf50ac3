import SharedStore

/// What an account directory says of a recipient (the node's `AuthBackend.lookupAccount`, adapted by the
/// executable, so that this module does not depend on the node's).
public enum RecipientLookup: Sendable, Equatable {
    case exists
    case unknown
    /// Unreachable, timed out: the delivery is deferred (4xx, socketmap TEMP), never refused.
    case unavailable(String)
}

/// The account directory a coordinator asks about recipients (`--auth ldap|pam`). Blocking: run on the thread pool.
public protocol RecipientDirectory: Sendable {
    func lookup(_ address: MailboxAddress) -> RecipientLookup
}

/// Whether a recipient in an accepted domain can take mail: a mailbox of the password file by the store alone; an
/// external mailbox (a directory account) only while the directory still knows the account; with `autocreate`, a
/// missing mailbox of an account the directory knows is created (external) now. Shared by RCPT, the socketmap and
/// `poplar deliver`, so that all three answer alike.
public struct RecipientResolver: Sendable {
    public enum Resolution: Sendable, Equatable {
        case deliverable
        case unknown
        case unavailable(String)
    }

    public let store: MailStore
    public let directory: (any RecipientDirectory)?
    public let autocreate: Bool

    public init(store: MailStore, directory: (any RecipientDirectory)? = nil, autocreate: Bool = false) {
        self.store = store
        self.directory = directory
        self.autocreate = autocreate
    }

    /// Blocking (store calls, the directory).
    public func resolve(_ address: MailboxAddress) throws -> Resolution {
        if try store.mailboxExists(address) {
            guard let directory, try store.isExternalMailbox(address) else { return .deliverable }
            return Self.resolution(directory.lookup(address))
        }
        guard let directory, autocreate else { return .unknown }
        let found = Self.resolution(directory.lookup(address))
        guard found == .deliverable else { return found }
        do {
            try store.createMailbox(address, password: nil, allowAPOP: false, quota: nil)
        } catch let e as StoreError where e.code == .alreadyExists {}  // another delivery or login at the same moment
        return .deliverable
    }

    static func resolution(_ lookup: RecipientLookup) -> Resolution {
        switch lookup {
        case .exists: return .deliverable
        case .unknown: return .unknown
        case .unavailable(let why): return .unavailable(why)
        }
    }
}
