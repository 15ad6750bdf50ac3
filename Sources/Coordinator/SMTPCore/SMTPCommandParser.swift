/// Parses one command line (without its CRLF) into an `SMTPCommand` (RFC 5321 §4.1, RFC 2033 §4.1).
///
/// Total: any byte sequence gives a command or an `SMTPParseError` (the state machine answers `500 5.5.2` or
/// `501 5.5.4`); nothing here force-unwraps or indexes past an end. The line is read as bytes; text is made
/// only of parts already checked.
public enum SMTPCommandParser {
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09

    public static func parse(_ line: [UInt8]) -> Result<SMTPCommand, SMTPParseError> {
        if line.contains(where: { $0 == 0 || $0 == 0x0D || $0 == 0x0A }) { return .failure(.syntax("control characters in command")) }
        let bytes = line[...]
        let verbEnd = bytes.firstIndex(of: space) ?? bytes.endIndex
        let verb = asciiUppercased(bytes[..<verbEnd])
        let rest = verbEnd < bytes.endIndex ? bytes[bytes.index(after: verbEnd)...] : bytes[bytes.endIndex...]
        func noArgs(_ c: SMTPCommand) -> Result<SMTPCommand, SMTPParseError> {
            trimmed(rest).isEmpty ? .success(c) : .failure(.syntax("\(verb) takes no argument"))
        }
        switch verb {
        case "HELO", "EHLO", "LHLO":
            // RFC 5321 §4.1.1.1: Domain / address-literal, ASCII (SMTPUTF8 is not offered).
            let domain = trimmed(rest)
            guard !domain.isEmpty, domain.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else { return .failure(.syntax("\(verb) needs a domain")) }
            let name = String(decoding: domain, as: UTF8.self)
            return .success(verb == "HELO" ? .helo(name) : verb == "EHLO" ? .ehlo(name) : .lhlo(name))
        case "MAIL":
            return path(rest, prefix: "FROM:").map { .mail(from: $0.0, parameters: $0.1) }
        case "RCPT":
            return path(rest, prefix: "TO:").flatMap { p in
                p.0.isEmpty ? .failure(.syntax("empty recipient")) : .success(.rcpt(to: p.0, parameters: p.1))
            }
        case "DATA": return noArgs(.data)
        case "RSET": return noArgs(.rset)
        case "QUIT": return noArgs(.quit)
        case "STARTTLS": return noArgs(.starttls)
        case "NOOP": return .success(.noop)  // RFC 5321 §4.1.1.9: a parameter may be given and is ignored
        case "HELP": return .success(.help)
        case "VRFY": return .success(.vrfy)
        default: return .failure(.unknownCommand)
        }
    }

    /// "FROM:<a@b> SIZE=10 BODY=8BITMIME" → ("a@b", ["SIZE": "10", "BODY": "8BITMIME"]). Brackets required
    /// (RFC 5321 §4.1.2); a source route ("@x,@y:") is dropped (§C); spaces after the colon are tolerated.
    /// The address is at most `SMTPLimits.maxPathLength` octets of UTF-8 without spaces or controls.
    static func path(_ rest: ArraySlice<UInt8>, prefix: String) -> Result<(String, [String: String]), SMTPParseError> {
        let expected = Array(prefix.utf8)
        guard rest.count >= expected.count, asciiUppercased(rest.prefix(expected.count)) == prefix else {
            return .failure(.syntax("expected \(prefix)<address>"))
        }
        var s = rest.dropFirst(expected.count)
        while s.first == space { s = s.dropFirst() }
        guard s.first == 0x3C, let close = s.firstIndex(of: 0x3E) else { return .failure(.syntax("address must be in angle brackets")) }
        var address = s[s.index(after: s.startIndex)..<close]
        if address.first == 0x40, let colon = address.firstIndex(of: 0x3A) { address = address[address.index(after: colon)...] }
        guard address.count <= SMTPLimits.maxPathLength else { return .failure(.syntax("path too long")) }
        guard address.allSatisfy({ $0 > 0x20 && $0 != 0x7F && $0 != 0x3C && $0 != 0x3E }),
            let text = String(validating: address, as: UTF8.self)
        else { return .failure(.syntax("invalid address")) }
        return SMTPParameterParser.parse(s[s.index(after: close)...]).map { (text, $0) }
    }

    /// ASCII letters uppercased, other bytes kept (no Unicode case mapping: "ß" never becomes "SS").
    static func asciiUppercased(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }, as: UTF8.self)
    }

    /// Without leading and trailing SP and HTAB.
    static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var s = bytes
        while let f = s.first, f == space || f == tab { s = s.dropFirst() }
        while let l = s.last, l == space || l == tab { s = s.dropLast() }
        return s
    }
}
