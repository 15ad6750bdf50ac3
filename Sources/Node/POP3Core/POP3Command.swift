/// A POP3 command (RFC 1939 §3: a case-insensitive keyword, arguments separated by single spaces).
public enum POP3Command: Sendable, Equatable {
    /// RFC 1939 §7: USER name.
    case user(String)
    /// RFC 1939 §7: PASS string (the rest of the line, spaces included).
    case pass(String)
    /// RFC 1939 §7: APOP name digest.
    case apop(name: String, digest: String)
    /// RFC 5034 §4: AUTH [mechanism [initial-response]]; bare AUTH lists the mechanisms.
    case auth(mechanism: String?, initialResponse: String?)
    /// RFC 1939 §5, §6: QUIT.
    case quit
    /// RFC 1939 §5: STAT.
    case stat
    /// RFC 1939 §5: LIST [msg].
    case list(Int?)
    /// RFC 1939 §5: RETR msg.
    case retr(Int)
    /// RFC 1939 §5: DELE msg.
    case dele(Int)
    /// RFC 1939 §5: NOOP.
    case noop
    /// RFC 1939 §5: RSET.
    case rset
    /// RFC 1939 §7: TOP msg n.
    case top(message: Int, lines: Int)
    /// RFC 1939 §7: UIDL [msg].
    case uidl(Int?)
    /// RFC 2449 §5: CAPA.
    case capa
    /// RFC 2595 §4: STLS.
    case stls
    /// RFC 6856 §2: UTF8 (no argument), UTF-8 user names and passwords from here on.
    case utf8
    /// RFC 6856 §3: LANG [language range]; bare LANG lists the languages. The range is checked against RFC 4647's
    /// basic-language-range syntax ("*" or subtags of letters and digits) and bounded by `POP3Limits.maxLanguageRangeLength`.
    case lang(String?)

    /// The keyword, for logs and metric labels: never the arguments.
    public var name: String {
        switch self {
        case .user: return "USER"
        case .pass: return "PASS"
        case .apop: return "APOP"
        case .auth: return "AUTH"
        case .quit: return "QUIT"
        case .stat: return "STAT"
        case .list: return "LIST"
        case .retr: return "RETR"
        case .dele: return "DELE"
        case .noop: return "NOOP"
        case .rset: return "RSET"
        case .top: return "TOP"
        case .uidl: return "UIDL"
        case .capa: return "CAPA"
        case .stls: return "STLS"
        case .utf8: return "UTF8"
        case .lang: return "LANG"
        }
    }
}
