import CLDAP

/// A directory call that did not succeed: the LDAP result code and what was being done. Its text names the
/// operation and the code, never a password.
public struct LDAPError: Error, Sendable, CustomStringConvertible {
    public let code: Int32
    public let context: String

    public init(code: Int32, context: String) {
        self.code = code
        self.context = context
    }

    public var description: String {
        let text = ldap_err2string(code).map { String(cString: $0) } ?? "unknown error"
        return "\(context): \(text) (\(code))"
    }

    /// The library's own codes (negative: server down, timeout, connect error, local error, …) leave the
    /// connection unusable: it is dropped and a new one made on the next call. So are busy and unavailable.
    public var dropsConnection: Bool {
        code < 0 || code == LDAP_BUSY || code == LDAP_UNAVAILABLE
    }
}
