import SharedStore

/// What CAPA announces before login for LOGIN-DELAY and EXPIRE (RFC 2449 §6.5, §6.7), from every domain's policy:
/// the common value when all domains agree, else the smallest followed by "USER" (the value varies per user; the
/// user's own is announced after login). Refreshed with the node's registry record, so a new connection reads it
/// without a store call.
struct DomainPolicySummary: Sendable, Equatable {
    var loginDelay = "0"
    var expire = "NEVER"

    init() {}

    init(_ policies: some Collection<DomainPolicy>) {
        let delays = Set(policies.map(\.loginDelay))
        if delays.count > 1, let least = delays.min() { loginDelay = "\(least) USER" } else { loginDelay = "\(delays.first ?? 0)" }
        // NEVER is the longest retention.
        let expires = Set(policies.map { $0.expireDays ?? Int.max })
        let text = { (days: Int) in days == Int.max ? "NEVER" : "\(days)" }
        if expires.count > 1, let least = expires.min() { expire = text(least) + " USER" } else { expire = text(expires.first ?? Int.max) }
    }
}
