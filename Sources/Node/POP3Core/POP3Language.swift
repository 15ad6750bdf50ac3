/// The languages of the human-readable text (RFC 6856 §3, the LANG command), each with its language tag (RFC 5646)
/// and its name in itself for the LANG listing. English is the default (RFC 2277 §4.5: "i-default").
public enum POP3Language: String, Sendable, Equatable, CaseIterable {
    case english = "en"
    case german = "de"

    /// The language a session starts in, and the one "LANG *" returns to.
    public static let standard = POP3Language.english

    /// The language tag, as the LANG listing and the LANG reply show it.
    public var tag: String { rawValue }

    /// The language's name in the language itself (RFC 6856 §3: the listing's description).
    public var nativeName: String {
        switch self {
        case .english: return "English"
        case .german: return "Deutsch"
        }
    }

    /// The LANG listing: "tag description", one line per language, the default first.
    public static var listing: [String] { allCases.map { "\($0.tag) \($0.nativeName)" } }

    /// The language a LANG argument asks for: "*" and "i-default" (RFC 2277) are the default; otherwise the lookup of
    /// RFC 4647 §3.4, ASCII case-insensitive: the range is shortened subtag by subtag (a single-letter subtag goes with
    /// the one after it) until it names a language here, so "de-CH" and "DE-de-1996" are German. nil: none matches.
    public static func lookup(_ range: String) -> POP3Language? {
        let lowered = String(decoding: range.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
        if lowered == "*" || lowered == "i-default" { return standard }
        var subtags = lowered.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        while !subtags.isEmpty {
            if let language = POP3Language(rawValue: subtags.joined(separator: "-")) { return language }
            subtags.removeLast()
            if subtags.count >= 2, subtags.last?.count == 1 { subtags.removeLast() }
        }
        return nil
    }
}
