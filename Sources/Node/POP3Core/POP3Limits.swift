/// Every bound the POP3 layer enforces, by name.
public enum POP3Limits {
    /// RFC 2449 §4: a command line is at most 255 octets, excluding the CRLF.
    public static let maxCommandLineLength = 255
    /// RFC 5034 §4: AUTH continuation lines may be longer than commands.
    public static let maxSASLResponseLength = 4096
    /// "AUTH <mechanism> <initial response>": RFC 5034 §4 asks a client whose initial response would make the line
    /// longer than 255 octets to send it after the empty challenge instead, but mpop sends an OAUTHBEARER token of a
    /// kilobyte or more as an initial response (Dovecot takes it): an AUTH line may carry a full SASL response. Any
    /// other command stays within 255 octets.
    public static let maxAuthCommandLineLength = maxSASLResponseLength + 64
    /// RFC 1939 allowed 40-octet arguments; RFC 2449 §4 raised the command line to 255 octets, and a mailbox
    /// address here can be longer than 40 (63 + 1 + 254), so an argument is bounded by the line only.
    public static let maxArgumentLength = maxCommandLineLength
    /// The longest LANG argument (RFC 6856 §3). RFC 5646 §4.4.1 asks for at least 35 characters; 64 covers any tag
    /// with extensions a client would send.
    public static let maxLanguageRangeLength = 64
    /// Bad commands before the server closes the connection.
    public static let defaultMaxBadCommands = 10
}
