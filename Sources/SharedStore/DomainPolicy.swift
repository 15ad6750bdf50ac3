/// A domain's POP3 policies (RFC 2449), kept on its line of the metabase (`example.test login-delay=900 expire=30`)
/// so that every node reads them with the list of accepted domains, at no extra store call.
public struct DomainPolicy: Sendable, Equatable {
    /// LOGIN-DELAY: the least number of seconds between two logins into one mailbox; 0 for none.
    public var loginDelay: Int
    /// EXPIRE: the retention period in days; nil for NEVER; 0: a message retrieved is deleted when the session
    /// ends with QUIT.
    public var expireDays: Int?
    /// Reconnect wins (issue 16): a login with the right password into a mailbox a session holds asks that session,
    /// on whatever node, to end (as `poplar cluster kick` does: no UPDATE, nothing deleted) and waits for the lock,
    /// instead of answering [IN-USE] at once. For clients behind a dead NAT or a closed laptop.
    public var reconnectWins: Bool = false

    /// The largest value either may take (a year of seconds, ten years of days).
    public static let maxLoginDelay = 366 * 24 * 3600
    public static let maxExpireDays = 3660

    public static let none = DomainPolicy(loginDelay: 0, expireDays: nil)

    public init(loginDelay: Int = 0, expireDays: Int? = nil, reconnectWins: Bool = false) {
        self.loginDelay = min(max(loginDelay, 0), Self.maxLoginDelay)
        self.expireDays = expireDays.map { min(max($0, 0), Self.maxExpireDays) }
        self.reconnectWins = reconnectWins
    }

    /// The settings after the domain name on its metabase line; unknown or malformed settings are ignored (a newer
    /// writer's keys do not stop an older reader).
    init(settings: some Sequence<Substring>) {
        var policy = DomainPolicy.none
        for item in settings {
            guard let eq = item.firstIndex(of: "=") else { continue }
            let key = item[..<eq], value = item[item.index(after: eq)...]
            switch key {
            case "login-delay": if let v = Int(value), v >= 0 { policy.loginDelay = min(v, Self.maxLoginDelay) }
            case "expire": if let v = Int(value), v >= 0 { policy.expireDays = min(v, Self.maxExpireDays) }
            case "reconnect-wins": policy.reconnectWins = value == "1"
            default: continue
            }
        }
        self = policy
    }

    /// The settings for the metabase line: empty for the default policy.
    var settings: String {
        var items: [String] = []
        if loginDelay > 0 { items.append("login-delay=\(loginDelay)") }
        if let expireDays { items.append("expire=\(expireDays)") }
        if reconnectWins { items.append("reconnect-wins=1") }
        return items.joined(separator: " ")
    }
}
