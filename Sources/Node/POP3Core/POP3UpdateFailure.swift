/// Why UPDATE (RFC 1939 §6) failed; nothing was deleted. The message is sent after "-ERR [SYS/TEMP]".
public struct POP3UpdateFailure: Error, Sendable, Equatable {
    public var message: String
    public init(message: String) { self.message = message }
}
