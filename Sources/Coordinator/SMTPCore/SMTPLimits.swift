/// Every bound the LMTP/SMTP receivers enforce, by name.
public enum SMTPLimits {
    /// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including CRLF.
    public static let maxCommandLineLength = 510
    /// RFC 5321 §4.5.3.1.8: at least 100 recipients must be accepted; more are refused with 452 (§4.5.3.1.10).
    public static let defaultMaxRecipients = 1000
    /// RFC 5321 §4.5.3.1.3: a path is at most 256 octets.
    public static let maxPathLength = 256
    /// Largest message accepted (SIZE, RFC 1870); `552 5.3.4` beyond.
    public static let defaultMaxMessageSize = 64 * 1024 * 1024
    public static let defaultMaxBadCommands = 20
}
