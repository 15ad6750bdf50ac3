/// Every bound the LMTP/SMTP receivers enforce, by name.
public enum SMTPLimits {
    /// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including CRLF.
    public static let maxCommandLineLength = 510
    /// RFC 5321 §4.5.3.1.8: at least 100 recipients must be accepted; more are refused with 452 (§4.5.3.1.10).
    /// Counted per accepted RCPT line, duplicates included, so the bound still bounds the work.
    public static let defaultMaxRecipients = 1000
    /// RFC 5321 §4.5.3.1.3: a path is at most 256 octets.
    public static let maxPathLength = 256
    /// RFC 5321 §4.1.2 esmtp-param (keyword and value): longer is refused with 501 5.5.4. No parameter
    /// offered here (SIZE, BODY) comes close.
    public static let maxParameterLength = 64
    /// RFC 5321 §4.1.2 Mail-parameters: at most this many per MAIL or RCPT; more is 501 5.5.4.
    public static let maxParameters = 8
    /// RFC 1870 §3: size-value = 1*20DIGIT.
    public static let maxSizeDigits = 20
    /// Largest message accepted (SIZE, RFC 1870); `552 5.3.4` beyond.
    public static let defaultMaxMessageSize = 64 * 1024 * 1024
    public static let defaultMaxBadCommands = 20
}
