/// Why a command line was refused. The texts never quote the arguments (a PASS line must not reach a log).
public enum POP3ParseError: Error, Sendable, Equatable {
    /// An empty line (RFC 1939 §3: a command is a keyword).
    case empty
    /// A keyword this server does not know (RFC 1939 §3, RFC 2449 §5).
    case unknownCommand
    /// A known keyword with bad arguments, or a line with control bytes or over `POP3Limits.maxCommandLineLength`
    /// (RFC 2449 §4). `command` is the keyword only.
    case syntax(command: String, reason: String)
}

/// Parses one framed command line (RFC 1939 §3). Keywords are case-insensitive; arguments are separated by
/// single spaces and bounded by `POP3Limits.maxArgumentLength`; control bytes (NUL included) are refused.
public enum POP3CommandParser {
    public static func parse(_ line: [UInt8]) -> Result<POP3Command, POP3ParseError> {
        if line.isEmpty { return .failure(.empty) }
        // RFC 2449 §4; the framer already bounds lines, this keeps the parser safe on its own.
        if line.count > POP3Limits.maxCommandLineLength
            && (line.count > POP3Limits.maxAuthCommandLineLength || keywordOf(line) != "AUTH") {
            return .failure(.syntax(command: keywordOf(line), reason: "line longer than \(POP3Limits.maxCommandLineLength) octets"))
        }
        if line.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            let keyword = keywordOf(line)
            return .failure(.syntax(command: keyword, reason: "control characters are not allowed"))
        }
        let keywordEnd = line.firstIndex(of: 0x20) ?? line.endIndex
        let keyword = asciiUppercased(line[..<keywordEnd])
        let rest: ArraySlice<UInt8> = keywordEnd < line.endIndex ? line[(keywordEnd + 1)...] : []
        let hasArguments = keywordEnd < line.endIndex
        guard knownKeywords.contains(keyword) else { return .failure(.unknownCommand) }

        switch keyword {
        case "PASS":
            // RFC 1939 §7: the password may contain spaces; it is the rest of the line.
            guard hasArguments, !rest.isEmpty else { return .failure(.syntax(command: keyword, reason: "PASS needs a password")) }
            return .success(.pass(String(decoding: rest, as: UTF8.self)))
        case "AUTH":
            // RFC 5034 §4: the initial response may exceed the 40-octet argument bound.
            let args = split(rest, hasArguments: hasArguments)
            guard let args, args.count <= 2 else { return .failure(.syntax(command: keyword, reason: "AUTH takes a mechanism and an optional initial response")) }
            if let mechanism = args.first, mechanism.utf8.count > POP3Limits.maxArgumentLength {
                return .failure(.syntax(command: keyword, reason: "mechanism name too long"))
            }
            return .success(.auth(mechanism: args.first.map { asciiUppercased(Array($0.utf8)[...]) }, initialResponse: args.count == 2 ? args[1] : nil))
        default:
            break
        }

        guard let args = split(rest, hasArguments: hasArguments) else {
            return .failure(.syntax(command: keyword, reason: "arguments are separated by single spaces"))
        }
        if args.contains(where: { $0.utf8.count > POP3Limits.maxArgumentLength }) {
            return .failure(.syntax(command: keyword, reason: "argument longer than \(POP3Limits.maxArgumentLength) octets"))
        }
        func none(_ command: POP3Command) -> Result<POP3Command, POP3ParseError> {
            args.isEmpty ? .success(command) : .failure(.syntax(command: keyword, reason: "\(keyword) takes no argument"))
        }
        func optionalNumber(_ make: (Int?) -> POP3Command) -> Result<POP3Command, POP3ParseError> {
            switch args.count {
            case 0: return .success(make(nil))
            case 1:
                guard let n = messageNumber(args[0]) else { return .failure(.syntax(command: keyword, reason: "invalid message number")) }
                return .success(make(n))
            default: return .failure(.syntax(command: keyword, reason: "too many arguments"))
            }
        }
        func oneNumber(_ make: (Int) -> POP3Command) -> Result<POP3Command, POP3ParseError> {
            guard args.count == 1 else { return .failure(.syntax(command: keyword, reason: "\(keyword) takes one message number")) }
            guard let n = messageNumber(args[0]) else { return .failure(.syntax(command: keyword, reason: "invalid message number")) }
            return .success(make(n))
        }

        switch keyword {
        case "USER":
            guard args.count == 1 else { return .failure(.syntax(command: keyword, reason: "USER takes one name")) }
            return .success(.user(args[0]))
        case "APOP":
            guard args.count == 2 else { return .failure(.syntax(command: keyword, reason: "APOP takes a name and a digest")) }
            return .success(.apop(name: args[0], digest: args[1]))
        case "QUIT": return none(.quit)
        case "STAT": return none(.stat)
        case "NOOP": return none(.noop)
        case "RSET": return none(.rset)
        case "CAPA": return none(.capa)
        case "STLS": return none(.stls)
        case "UTF8": return none(.utf8)
        case "LANG":
            switch args.count {
            case 0: return .success(.lang(nil))
            case 1:
                guard args[0].utf8.count <= POP3Limits.maxLanguageRangeLength else {
                    return .failure(.syntax(command: keyword, reason: "language range longer than \(POP3Limits.maxLanguageRangeLength) octets"))
                }
                guard isLanguageRange(args[0]) else { return .failure(.syntax(command: keyword, reason: "invalid language range")) }
                return .success(.lang(args[0]))
            default: return .failure(.syntax(command: keyword, reason: "LANG takes one language range"))
            }
        case "LIST": return optionalNumber { .list($0) }
        case "UIDL": return optionalNumber { .uidl($0) }
        case "RETR": return oneNumber { .retr($0) }
        case "DELE": return oneNumber { .dele($0) }
        case "TOP":
            guard args.count == 2 else { return .failure(.syntax(command: keyword, reason: "TOP takes a message number and a line count")) }
            guard let n = messageNumber(args[0]), let lines = number(args[1]) else {
                return .failure(.syntax(command: keyword, reason: "invalid number"))
            }
            return .success(.top(message: n, lines: lines))
        default:
            return .failure(.unknownCommand)
        }
    }

    private static let knownKeywords: Set<String> = [
        "USER", "PASS", "APOP", "AUTH", "QUIT", "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL", "CAPA", "STLS", "UTF8", "LANG",
    ]

    /// nil when two spaces meet or the line ends in a space.
    private static func split(_ rest: ArraySlice<UInt8>, hasArguments: Bool) -> [String]? {
        guard hasArguments else { return [] }
        let parts = rest.split(separator: 0x20, omittingEmptySubsequences: false)
        if parts.contains(where: { $0.isEmpty }) { return nil }
        return parts.map { String(decoding: $0, as: UTF8.self) }
    }

    /// RFC 4647 §2.1: language-range = (1*8ALPHA *("-" 1*8alphanum)) / "*"; "i-default" (RFC 2277) fits it too.
    static func isLanguageRange(_ text: String) -> Bool {
        if text == "*" { return true }
        let subtags = text.utf8.split(separator: 0x2D, omittingEmptySubsequences: false)
        guard let first = subtags.first else { return false }
        func isAlpha(_ b: UInt8) -> Bool { (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) }
        func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        guard (1...8).contains(first.count), first.allSatisfy(isAlpha) else { return false }
        return subtags.dropFirst().allSatisfy { (1...8).contains($0.count) && $0.allSatisfy { isAlpha($0) || isDigit($0) } }
    }

    /// Decimal digits only, 0...Int32.max.
    static func number(_ text: String) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 10, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        guard let n = Int(text), n <= Int(Int32.max) else { return nil }
        return n
    }

    /// A message number: 1...Int32.max.
    static func messageNumber(_ text: String) -> Int? {
        guard let n = number(text), n >= 1 else { return nil }
        return n
    }

    private static func keywordOf(_ line: [UInt8]) -> String {
        let end = line.firstIndex(where: { $0 == 0x20 || $0 < 0x20 }) ?? line.endIndex
        // Only a known keyword: an unknown first word may be a secret typed at the wrong prompt.
        let keyword = asciiUppercased(line[..<end].prefix(5))
        return knownKeywords.contains(keyword) ? keyword : ""
    }

    /// RFC 1939 §3: keywords are case-insensitive ASCII. Only a-z are folded, so no Unicode case mapping can turn
    /// a non-ASCII keyword into a valid one ("quıt" with a dotless i is not QUIT).
    static func asciiUppercased(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }, as: UTF8.self)
    }
}
