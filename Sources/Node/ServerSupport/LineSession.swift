import NIOCore

/// Which of the connection's clocks ran out.
public enum ConnectionTimeout: Sendable, Equatable {
    /// No command for the session's current idle time (RFC 1939 §3 autologout, RFC 5321 §4.5.3.2 timeouts).
    case idle
    /// The absolute time allowed before login has passed, however busy the client kept the connection.
    case loginDeadline
}

/// How the connection hands input to its session.
public enum ConnectionFraming: Sendable, Equatable {
    /// Command lines of at most this many octets (CRLF or LF ends a line; longer lines arrive as `.tooLong`).
    case lines(maxLength: Int)
    /// Raw bytes as they arrive (SMTP DATA, netstrings); the session bounds what it keeps.
    case raw
}

/// A protocol's session on the shared connection skeleton (`LineConnection`): its grammar and state machine only.
/// Every call comes on the connection's event loop. The session answers by calling the connection (write, close,
/// hold reading, offload blocking work, start TLS); it never touches the channel.
public protocol LineSession: AnyObject {
    /// The connection is open and its real peer known (after any PROXY header): greet, or hold for admission.
    func connectionStarted(_ connection: LineConnection)
    /// A command line (or a line over the bound) in `.lines` framing.
    func received(_ event: LineFramer.Event, on connection: LineConnection)
    /// Bytes in `.raw` framing.
    func receivedRaw(_ bytes: [UInt8], on connection: LineConnection)
    /// The TLS handshake asked for with `startTLS` is complete: the session starts afresh (RFC 2595 §4, RFC 3207 §4.2).
    func tlsEstablished(on connection: LineConnection)
    /// A clock ran out: answer and close (the connection closes after a grace if the session does not).
    func timedOut(_ timeout: ConnectionTimeout, on connection: LineConnection)
    /// The connection is gone (peer closed, error, or closed here). Called once; give back what the session holds.
    func connectionEnded()
}

extension LineSession {
    public func receivedRaw(_ bytes: [UInt8], on connection: LineConnection) {}
    public func tlsEstablished(on connection: LineConnection) {}
}
