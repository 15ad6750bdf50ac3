/// One rule a name given to the store can break. Its `reason` is what the error says after the name, so the
/// refusal names the rule (`invalid mailbox name "a\u{202E}b": contains a bidirectional control character (U+202E)`).
public enum NameRule: String, Sendable, CaseIterable {
    case empty
    /// More characters than the seed allows (`Names.maxMailboxLength`, `Names.maxDomainLength`).
    case tooManyCharacters
    /// A path component the name becomes would pass `Names.maxComponentBytes` (with its prefix and suffix).
    case tooManyBytes
    /// U+FFFD: what a decoder leaves where bytes were not UTF-8 (a POP3 USER line is decoded leniently).
    case invalidUTF8
    /// C0 and C1 controls, DEL (`Names.isControl`).
    case controlCharacter
    /// Characters that reorder text on screen (`Names.bidiControls`).
    case bidiControl
    /// Zero-width, invisible and other default-ignorable characters (`Names.isInvisible`).
    case invisibleCharacter
    /// A space or another white-space character.
    case whitespace
    /// One of the seed's forbidden mailbox characters (`Names.forbiddenMailboxCharacters`).
    case forbiddenCharacter
    /// A mailbox: a dot first, last, doubled, or carrying a combining mark (RFC 5322 dot-atom).
    case dotAtom
    /// A domain: a character other than a-z, 0-9, `-` and `.`.
    case domainCharacter
    /// A domain: an empty label (`a..b`, a leading or trailing dot).
    case emptyLabel
    /// A domain: a label longer than `Names.maxLabelLength`.
    case labelTooLong
    /// A domain: a label that starts or ends with `-`.
    case labelHyphen
    /// Not of the form user@domain.
    case notAnAddress
    /// A node name or session id outside its alphabet or length.
    case identifier
}
