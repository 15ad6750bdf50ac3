/// The handler's answer to `.authenticate`, after it checked the credentials and tried to take the mailbox.
public enum POP3AuthOutcome: Sendable, Equatable {
    /// RFC 1939 §4: "+OK <mailbox> has N messages (M octets)" and TRANSACTION with this fixed list (RFC 1939 §5);
    /// `mailbox` is the canonical name, for logs.
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
    /// "-ERR [LOGIN-DELAY] <text>" (RFC 2449 §8.1.2): the right credentials, too soon after the last login.
    case loginDelay(String)
}
