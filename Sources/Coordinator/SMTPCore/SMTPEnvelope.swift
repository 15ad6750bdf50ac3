/// What a transaction carries to delivery.
///
/// Recipients are unique by mailbox: RCPT lines naming the same mailbox (compared as `MailboxAddress(parsing:)`
/// in SharedStore compares them, the whole address lowercased) are one recipient, so one copy is stored,
/// under the spelling of the first. `rcptOrder` keeps, per accepted RCPT line in order, the index of the
/// recipient it named, so LMTP can still answer once per RCPT (RFC 2033 §4.2) with `perRCPT(_:)`.
public struct SMTPEnvelope: Sendable, Equatable {
    public var helo: String
    /// "" for the null reverse-path (bounces).
    public var from: String
    /// Unique recipients, in the order first named.
    public private(set) var recipients: [String]
    /// Per accepted RCPT line, in order: the index in `recipients` of the one it named.
    public private(set) var rcptOrder: [Int]
    private var indexByKey: [String: Int]

    /// `recipients` may name a mailbox more than once (pickup files, RCPT lines): duplicates are merged.
    public init(helo: String, from: String, recipients: [String]) {
        self.helo = helo
        self.from = from
        self.recipients = []
        self.rcptOrder = []
        self.indexByKey = [:]
        for r in recipients { append(r) }
    }

    /// How a recipient is compared: as SharedStore's `MailboxAddress(parsing:)` stores it (lowercased).
    public static func key(_ address: String) -> String { address.lowercased() }

    /// Accepted RCPT lines, duplicates included.
    public var rcptCount: Int { rcptOrder.count }

    /// The index in `recipients` of the recipient `address` names, if already there.
    public func index(of address: String) -> Int? { indexByKey[Self.key(address)] }

    /// Records one accepted RCPT line; returns the index of its (possibly earlier) recipient.
    @discardableResult
    public mutating func append(_ address: String) -> Int {
        let key = Self.key(address)
        let i: Int
        if let existing = indexByKey[key] {
            i = existing
        } else {
            i = recipients.count
            recipients.append(address)
            indexByKey[key] = i
        }
        rcptOrder.append(i)
        return i
    }

    /// One value per unique recipient → one per accepted RCPT line, in RCPT order. A recipient without a value
    /// (a caller that returned too few) gets `missing`.
    public func perRCPT<T>(_ perRecipient: [T], missing: T) -> [T] {
        rcptOrder.map { $0 < perRecipient.count ? perRecipient[$0] : missing }
    }
}
