/// Every bound the POP3 layer enforces, by name.
public enum POP3Limits {
    /// RFC 2449 §4: a command line is at most 255 octets, excluding the CRLF.
    public static let maxCommandLineLength = 255
    /// RFC 5034 §4: AUTH continuation lines may be longer than commands.
    public static let maxSASLResponseLength = 4096
    /// RFC 1939 allowed 40-octet arguments; RFC 2449 §4 raised the command line to 255 octets, and a mailbox
    /// address here can be longer than 40 (63 + 1 + 254), so an argument is bounded by the line only.
    public static let maxArgumentLength = maxCommandLineLength
    /// Bad commands before the server closes the connection.
    public static let defaultMaxBadCommands = 10
}
