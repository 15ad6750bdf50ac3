/// What the handler must verify; the state machine never judges a password. Never logged.
public enum POP3Credentials: Sendable, Equatable {
    /// USER/PASS (RFC 1939 §7), AUTH PLAIN (RFC 4616), AUTH LOGIN.
    case password(user: String, password: String)
    /// RFC 1939 §7: digest = lowercase hex MD5(timestamp + secret).
    case apop(user: String, digest: String, timestamp: String)
    /// RFC 2195: digest = lowercase hex HMAC-MD5(secret, challenge).
    case cramMD5(user: String, digest: String, challenge: String)
}

/// The handler's answer to `.authenticate`, after it checked the credentials and tried to take the mailbox.
public enum POP3AuthOutcome: Sendable, Equatable {
    case success(mailbox: String, messages: [POP3Message])
    /// "-ERR [AUTH]": the same answer for a wrong password and an unknown user.
    case badCredentials
    /// "-ERR [IN-USE] <who holds it and since when>" (RFC 2449 §8.1.1).
    case inUse(String)
    /// "-ERR [SYS/PERM]": locked by the administrator.
    case adminLocked
    /// "-ERR [SYS/TEMP] <text>" (RFC 3206 §4): store unreachable and the like.
    case temporaryFailure(String)
    /// "-ERR [AUTH]": plaintext credentials without TLS.
    case plaintextDisallowed
    /// "-ERR [AUTH]": the mechanism is not enabled for this mailbox.
    case mechanismDisallowed
}

/// One message of the session's fixed list (RFC 1939 §5: numbers fixed for the session).
public struct POP3Message: Sendable, Equatable {
    public var uidl: String
    public var size: Int64
    public init(uidl: String, size: Int64) {
        self.uidl = uidl
        self.size = size
    }
}

public struct POP3UpdateFailure: Error, Sendable, Equatable {
    public var message: String
    public init(message: String) { self.message = message }
}
