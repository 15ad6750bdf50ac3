import SharedStore

/// A refused admin operation, with a text an operator can act on (never a secret). The CLI prints it, the console
/// shows it on the page (escaped).
public struct AdminError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        /// The input is not valid (a name, a size, a password).
        case invalid
        case notFound
        case alreadyExists
        /// A session holds the mailbox, or the administrator's lock.
        case inUse
        /// The store failed.
        case store
    }

    public var kind: Kind
    public var description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}
