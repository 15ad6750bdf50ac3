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
