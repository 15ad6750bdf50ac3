import Foundation

/// An LMTP/SMTP command (RFC 5321 §4.1, RFC 2033 §4).
public enum SMTPCommand: Sendable, Equatable {
    /// RFC 5321 §4.1.1.1.
    case helo(String)
    case ehlo(String)
    /// RFC 2033 §4.1: LHLO replaces HELO/EHLO in LMTP.
    case lhlo(String)
    /// RFC 5321 §4.1.1.2: MAIL FROM:<reverse-path> [parameters]; "" is the null reverse-path.
    case mail(from: String, parameters: [String: String])
    /// RFC 5321 §4.1.1.3.
    case rcpt(to: String, parameters: [String: String])
    /// RFC 5321 §4.1.1.4.
    case data
    /// RFC 5321 §4.1.1.5.
    case rset
    /// RFC 5321 §4.1.1.9.
    case noop
    /// RFC 5321 §4.1.1.10.
    case quit
    /// RFC 5321 §4.1.1.6 (answered 252: no address verification).
    case vrfy
    /// RFC 3207.
    case starttls
    case help

    public var name: String {
        switch self {
        case .helo: return "HELO"
        case .ehlo: return "EHLO"
        case .lhlo: return "LHLO"
        case .mail: return "MAIL"
        case .rcpt: return "RCPT"
        case .data: return "DATA"
        case .rset: return "RSET"
        case .noop: return "NOOP"
        case .quit: return "QUIT"
        case .vrfy: return "VRFY"
        case .starttls: return "STARTTLS"
        case .help: return "HELP"
        }
    }
}

public enum SMTPParseError: Error, Sendable, Equatable {
    case unknownCommand
    case syntax(String)
}

public enum SMTPCommandParser {
    public static func parse(_ line: [UInt8]) -> Result<SMTPCommand, SMTPParseError> {
        if line.contains(where: { $0 == 0 || $0 == 0x0D || $0 == 0x0A }) { return .failure(.syntax("control characters in command")) }
        let text = String(decoding: line, as: UTF8.self)
        let verbEnd = text.firstIndex(of: " ") ?? text.endIndex
        let verb = text[..<verbEnd].uppercased()
        let rest = verbEnd < text.endIndex ? String(text[text.index(after: verbEnd)...]) : ""
        func noArgs(_ c: SMTPCommand) -> Result<SMTPCommand, SMTPParseError> {
            rest.trimmingCharacters(in: .whitespaces).isEmpty ? .success(c) : .failure(.syntax("\(verb) takes no argument"))
        }
        switch verb {
        case "HELO", "EHLO", "LHLO":
            let domain = rest.trimmingCharacters(in: .whitespaces)
            guard !domain.isEmpty, !domain.contains(" ") else { return .failure(.syntax("\(verb) needs a domain")) }
            return .success(verb == "HELO" ? .helo(domain) : verb == "EHLO" ? .ehlo(domain) : .lhlo(domain))
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
    /// (RFC 5321 §4.1.2); a source route ("@x,@y:") is dropped (§C); a space after the colon is tolerated.
    static func path(_ rest: String, prefix: String) -> Result<(String, [String: String]), SMTPParseError> {
        guard rest.uppercased().hasPrefix(prefix) else { return .failure(.syntax("expected \(prefix)<address>")) }
        var s = Substring(rest.dropFirst(prefix.count))
        while s.first == " " { s = s.dropFirst() }
        guard s.first == "<", let close = s.firstIndex(of: ">") else { return .failure(.syntax("address must be in angle brackets")) }
        var address = String(s[s.index(after: s.startIndex)..<close])
        if address.hasPrefix("@"), let colon = address.firstIndex(of: ":") { address = String(address[address.index(after: colon)...]) }
        guard address.utf8.count <= SMTPLimits.maxPathLength else { return .failure(.syntax("path too long")) }
        guard !address.contains(where: { $0 == " " || $0 == "<" || $0 == ">" }) else { return .failure(.syntax("invalid address")) }
        var params: [String: String] = [:]
        for p in s[s.index(after: close)...].split(separator: " ") {
            let kv = p.split(separator: "=", maxSplits: 1)
            params[kv[0].uppercased()] = kv.count == 2 ? String(kv[1]) : ""
        }
        return .success((address, params))
    }
}
