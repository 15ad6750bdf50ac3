/// Extended response codes actually sent (RFC 2449 §8, RFC 3206).
public enum POP3ResponseCode: String, Sendable {
    /// RFC 2449 §8.1.1: the mailbox is held by another session.
    case inUse = "IN-USE"
    /// RFC 2449 §8.1.2.
    case loginDelay = "LOGIN-DELAY"
    /// RFC 3206 §4: a temporary system problem (store unreachable, too many connections).
    case sysTemp = "SYS/TEMP"
    /// RFC 3206 §4: a permanent problem the user must take up with the administrator (admin lock).
    case sysPerm = "SYS/PERM"
    /// RFC 3206 §5: the credentials are wrong, or not acceptable.
    case auth = "AUTH"
}
