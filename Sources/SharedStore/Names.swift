/// The seed's naming rules, case-insensitive (stored lowercase).
public enum Names {
    /// Fewer than 255 characters (the seed), a-z 0-9 `-` and dots; no empty label; labels do not start or end with `-`.
    public static let maxDomainLength = 254
    /// Fewer than 64 characters (the seed).
    public static let maxMailboxLength = 63
    /// The seed's forbidden mailbox characters.
    public static let forbiddenMailboxCharacters = Set("@()/\\[]:;,\".*=|?+")

    public static func validateDomain(_ text: String) throws -> String {
        let d = text.lowercased()
        func fail(_ why: String) -> StoreError {
            StoreError(code: .invalidName, message: "invalid domain \"\(text.prefix(80))\": \(why)")
        }
        guard !d.isEmpty else { throw fail("empty") }
        guard d.utf8.count <= maxDomainLength else { throw fail("longer than \(maxDomainLength) characters") }
        guard d.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x2E }) else {
            throw fail("only a-z, 0-9, - and . are allowed")
        }
        for label in d.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty else { throw fail("empty label") }
            guard label.count <= 63 else { throw fail("a label is longer than 63 characters") }
            guard !label.hasPrefix("-"), !label.hasSuffix("-") else { throw fail("a label starts or ends with -") }
        }
        return d
    }

    /// A node's name (in lock records, the registry and control folders): 1-32 of a-z, 0-9 and `-`.
    public static func validateNodeID(_ text: String) throws -> String {
        guard (1...32).contains(text.utf8.count), text.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }) else {
            throw StoreError(code: .invalidName, message: "invalid node name \"\(text.prefix(40))\": 1-32 characters of a-z, 0-9 and -")
        }
        return text
    }

    /// A POP3 session id (base 36, as the node makes them): 1-32 of a-z and 0-9.
    public static func validateSessionID(_ text: String) throws -> String {
        guard (1...32).contains(text.utf8.count), text.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) }) else {
            throw StoreError(code: .invalidName, message: "invalid session id \"\(text.prefix(40))\"")
        }
        return text
    }

    public static func validateMailbox(_ text: String) throws -> String {
        let m = text.lowercased()
        func fail(_ why: String) -> StoreError {
            StoreError(code: .invalidName, message: "invalid mailbox name \"\(text.prefix(80))\": \(why)")
        }
        guard !m.isEmpty else { throw fail("empty") }
        guard m.count <= maxMailboxLength, m.utf8.count <= 255 else { throw fail("longer than \(maxMailboxLength) characters") }
        if let bad = m.first(where: { forbiddenMailboxCharacters.contains($0) }) { throw fail("the character \(bad) is not allowed") }
        guard !m.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F || $0.properties.isWhitespace }) else {
            throw fail("spaces and control characters are not allowed")
        }
        return m
    }
}

/// USER@DOMAIN, validated and lowercased.
public struct MailboxAddress: Hashable, Sendable, CustomStringConvertible {
    public let mailbox: String
    public let domain: String

    public init(mailbox: String, domain: String) throws {
        self.mailbox = try Names.validateMailbox(mailbox)
        self.domain = try Names.validateDomain(domain)
    }

    public init(parsing text: String) throws {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw StoreError(code: .invalidName, message: "\"\(text.prefix(80))\" is not of the form user@domain")
        }
        try self.init(mailbox: String(parts[0]), domain: String(parts[1]))
    }

    public var description: String { "\(mailbox)@\(domain)" }
}
