/// Every input the admin operations take is bounded here (the console's forms and the CLI alike).
public enum AdminLimits {
    /// The most bytes of a password, as the CLI has always read it.
    public static let maxPasswordBytes = 1024
    /// The most characters of a mailbox search.
    public static let maxSearchLength = 64
    /// Mailboxes on one page of a listing: the default and the most.
    public static let defaultPageSize = 50
    public static let maxPageSize = 500
    /// Sessions of a mailbox shown on its page (the newest of its access journal).
    public static let recentSessions = 20
    /// Badmail messages listed on the delivery page, newest first.
    public static let badmailShown = 200
    /// The most characters of an address (`user@domain`) as typed.
    public static let maxAddressLength = 512
}
