/// The seed's naming rules, case-insensitive (stored lowercase), and what the store can hold: a name is accepted
/// only if every path component it becomes fits on every supported file system, and only if it shows on a screen
/// as what it is (no controls, bidi controls or invisible characters). A refusal names the broken `NameRule` and
/// never echoes a control or invisible character (`LogSafeText`): these texts reach logs.
public enum Names {
    /// Fewer than 255 characters (the seed), a-z 0-9 `-` and dots; no empty label; labels do not start or end with `-`.
    /// The domain is one path component as is, so this also keeps it within `maxComponentBytes`.
    public static let maxDomainLength = 254
    /// A domain label (RFC 1035 §2.3.4).
    public static let maxLabelLength = 63
    /// Fewer than 64 characters (the seed).
    public static let maxMailboxLength = 63
    /// The seed's forbidden mailbox characters, but the dot: local parts are RFC 5322 dot-atoms (`bob.smith`), so a
    /// dot is allowed between other characters (`NameRule.dotAtom`).
    public static let forbiddenMailboxCharacters = Set("@()/\\[]:;,\"*=|?+")

    /// The most bytes of one path component on every supported file system: NAME_MAX of Linux file systems
    /// (ext4, XFS, btrfs) and of NFS servers; NTFS and the Windows store count 255 UTF-16 units, never fewer.
    public static let maxComponentBytes = 255
    /// A mailbox's directory is `P3_<mailbox>.mbx` (docs/store-layout.md).
    public static let mailboxDirectoryPrefix = "P3_"
    public static let mailboxDirectorySuffix = ".mbx"
    /// The most UTF-8 bytes of a mailbox name: its directory name is the only component it becomes, and must fit.
    public static let maxMailboxBytes = maxComponentBytes - mailboxDirectoryPrefix.utf8.count - mailboxDirectorySuffix.utf8.count

    /// The bidi controls (Unicode's Bidi_Control property): ALM, LRM, RLM, LRE…RLO, LRI…PDI.
    public static let bidiControls: Set<UInt32> = [0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069]
    /// Zero-width and invisible characters refused even where Unicode's Default_Ignorable_Code_Point does not list
    /// them in this Swift's tables: ZWSP, ZWNJ, ZWJ, WJ…invisible plus, BOM, soft hyphen, Mongolian vowel separator.
    public static let invisibleCharacters: Set<UInt32> = [0x200B, 0x200C, 0x200D, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xFEFF, 0x00AD, 0x180E]
    /// What a lenient UTF-8 decoder puts where the bytes were not UTF-8.
    public static let replacementCharacter: Unicode.Scalar = "\u{FFFD}"

    /// C0 controls, DEL and C1 controls: U+0000–001F, U+007F–009F.
    public static func isControl(_ s: Unicode.Scalar) -> Bool {
        s.value <= 0x1F || (0x7F...0x9F).contains(s.value)
    }

    public static func isBidiControl(_ s: Unicode.Scalar) -> Bool {
        bidiControls.contains(s.value) || s.properties.isBidiControl
    }

    /// Zero-width, invisible and default-ignorable characters (variation selectors, tags, fillers …).
    public static func isInvisible(_ s: Unicode.Scalar) -> Bool {
        invisibleCharacters.contains(s.value) || s.properties.isDefaultIgnorableCodePoint
    }

    /// The first rule about single characters that `name` breaks, and the character: the checks every name made
    /// of Unicode text gets (a mailbox name, and whatever else from a user becomes a name).
    static func characterRule(_ name: String) -> (NameRule, Unicode.Scalar)? {
        for s in name.unicodeScalars {
            if s == replacementCharacter { return (.invalidUTF8, s) }
            if isControl(s) { return (.controlCharacter, s) }
            if isBidiControl(s) { return (.bidiControl, s) }
            if isInvisible(s) { return (.invisibleCharacter, s) }
            if s.properties.isWhitespace { return (.whitespace, s) }
        }
        return nil
    }

    /// What an error says for `rule` (and the character that broke it).
    static func reason(_ rule: NameRule, _ s: Unicode.Scalar? = nil) -> String {
        let at = s.map { " (\(LogSafeText.codePoint($0)))" } ?? ""
        switch rule {
        case .empty: return "empty"
        case .tooManyCharacters: return "longer than \(maxMailboxLength) characters"
        case .tooManyBytes: return "longer than \(maxMailboxBytes) bytes of UTF-8 (its directory \(mailboxDirectoryPrefix)….mbx must fit in \(maxComponentBytes) bytes)"
        case .invalidUTF8: return "is not valid UTF-8 (a replacement character\(at))"
        case .controlCharacter: return "contains a control character\(at)"
        case .bidiControl: return "contains a bidirectional control character\(at)"
        case .invisibleCharacter: return "contains an invisible character\(at)"
        case .whitespace: return "contains a space character\(at)"
        case .forbiddenCharacter: return "the character \(s.map { LogSafeText.escaped(String($0)) } ?? "?")\(at) is not allowed"
        case .dotAtom: return "a dot may only stand between other characters (RFC 5322 dot-atom: not first, last or doubled)"
        case .domainCharacter: return "only a-z, 0-9, - and . are allowed"
        case .emptyLabel: return "empty label"
        case .labelTooLong: return "a label is longer than \(maxLabelLength) characters"
        case .labelHyphen: return "a label starts or ends with -"
        case .notAnAddress: return "not of the form user@domain"
        case .identifier: return "not an identifier"
        }
    }

    static func refusal(_ what: String, _ text: String, _ rule: NameRule, _ s: Unicode.Scalar? = nil) -> StoreError {
        StoreError(code: .invalidName, message: "invalid \(what) \"\(LogSafeText.escaped(text))\": \(reason(rule, s))", nameRule: rule)
    }

    public static func validateDomain(_ text: String) throws -> String {
        let d = text.lowercased()
        func fail(_ rule: NameRule, _ s: Unicode.Scalar? = nil) -> StoreError {
            if rule == .tooManyCharacters {
                return StoreError(code: .invalidName, message: "invalid domain \"\(LogSafeText.escaped(text))\": longer than \(maxDomainLength) characters", nameRule: rule)
            }
            return refusal("domain", text, rule, s)
        }
        guard !d.isEmpty else { throw fail(.empty) }
        guard d.utf8.count <= maxDomainLength else { throw fail(.tooManyCharacters) }
        if let (rule, s) = characterRule(d) { throw fail(rule, s) }
        guard d.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x2E }) else {
            throw fail(.domainCharacter)
        }
        for label in d.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty else { throw fail(.emptyLabel) }
            guard label.count <= maxLabelLength else { throw fail(.labelTooLong) }
            guard !label.hasPrefix("-"), !label.hasSuffix("-") else { throw fail(.labelHyphen) }
        }
        return d
    }

    /// A node's name (in lock records, the registry and control folders): 1-32 of a-z, 0-9 and `-`.
    public static func validateNodeID(_ text: String) throws -> String {
        guard (1...32).contains(text.utf8.count), text.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }) else {
            throw StoreError(code: .invalidName, message: "invalid node name \"\(LogSafeText.escaped(text, limit: 40))\": 1-32 characters of a-z, 0-9 and -", nameRule: .identifier)
        }
        return text
    }

    /// A POP3 session id (base 36, as the node makes them): 1-32 of a-z and 0-9.
    public static func validateSessionID(_ text: String) throws -> String {
        guard (1...32).contains(text.utf8.count), text.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) }) else {
            throw StoreError(code: .invalidName, message: "invalid session id \"\(LogSafeText.escaped(text, limit: 40))\"", nameRule: .identifier)
        }
        return text
    }

    /// The seed's rules (fewer than 64 characters, none of `forbiddenMailboxCharacters`, no spaces), at most
    /// `maxMailboxBytes` of UTF-8, and no control, bidi control, invisible character or sign of invalid UTF-8.
    public static func validateMailbox(_ text: String) throws -> String {
        let m = text.lowercased()
        func fail(_ rule: NameRule, _ s: Unicode.Scalar? = nil) -> StoreError { refusal("mailbox name", text, rule, s) }
        guard !m.isEmpty else { throw fail(.empty) }
        guard m.count <= maxMailboxLength else { throw fail(.tooManyCharacters) }
        guard m.utf8.count <= maxMailboxBytes else { throw fail(.tooManyBytes) }
        if let (rule, s) = characterRule(m) { throw fail(rule, s) }
        // Scalars, not characters: a forbidden character with a combining mark after it is still that character.
        if let bad = m.unicodeScalars.first(where: { forbiddenMailboxCharacters.contains(Character($0)) }) { throw fail(.forbiddenCharacter, bad) }
        // RFC 5322 §3.2.3 dot-atom: dots only between atoms. A dot with a combining mark on it is no dot-atom either.
        let scalars = Array(m.unicodeScalars)
        for (i, c) in scalars.enumerated() where c == "." {
            let next = i + 1 < scalars.count ? scalars[i + 1] : nil
            if i == 0 || next == nil || next == "." || next.map({ $0.properties.generalCategory == .nonspacingMark }) == true {
                throw fail(.dotAtom, c)
            }
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
            throw StoreError(code: .invalidName, message: "\"\(LogSafeText.escaped(text))\" is not of the form user@domain", nameRule: .notAnAddress)
        }
        try self.init(mailbox: String(parts[0]), domain: String(parts[1]))
    }

    public var description: String { "\(mailbox)@\(domain)" }
}
