/// Where a session is (RFC 1939 §3), as the handler needs to know it (idle timeouts, whether to read lines).
public enum POP3Phase: Sendable, Equatable {
    /// RFC 1939 §4, including a SASL exchange in progress (RFC 5034 §4).
    case authorization
    /// Credentials are being checked, or TLS is being negotiated (RFC 2595 §4): the handler holds further lines.
    case authenticating
    /// RFC 1939 §5.
    case transaction
    /// RFC 1939 §6: QUIT was accepted, the handler is deleting.
    case update
    /// Nothing more is accepted.
    case closed
}
