/// Every bound the POP3 layer enforces, by name.
public enum POP3Limits {
    /// RFC 2449 §4: a command line is at most 255 octets, excluding the CRLF.
    public static let maxCommandLineLength = 255
    /// RFC 5034 §4: AUTH continuation lines may be longer than commands.
    public static let maxSASLResponseLength = 4096
    /// RFC 2449 §4: each argument is at most 40 octets (PASS excepted: it takes the rest of the line).
    public static let maxArgumentLength = 40
    /// Bad commands before the server closes the connection.
    public static let defaultMaxBadCommands = 10
}
