/// One message of the session's fixed list (RFC 1939 §5: numbers fixed for the session).
public struct POP3Message: Sendable, Equatable {
    public var uidl: String
    public var size: Int64
    public init(uidl: String, size: Int64) {
        self.uidl = uidl
        self.size = size
    }
}
