/// Every input of the console is bounded by one of these (docs/console.md, "Limits").
public enum ConsoleLimits {
    /// The most bytes of a request body (a form): far more than any form of the console needs.
    public static let maxBodyBytes = 16 * 1024
    /// The most fields of one form, and the most bytes of one field after decoding.
    public static let maxFormFields = 16
    public static let maxFieldBytes = 2048
    /// The most administrators' sessions one console keeps; past it the least recently used goes.
    public static let maxSessions = 10_000
    /// The most login-page sessions (anyone's, one per GET /login) one console keeps, apart from the administrators'
    /// sessions: past it the least recently used login-page session goes, never an administrator's.
    public static let maxLoginPageSessions = 10_000
    /// A connection that sends nothing for this long is closed (seconds): a stalled TLS handshake or request too.
    public static let connectionIdleSeconds: Int64 = 60
    /// Request headers: the most bytes of one, of all, and how many.
    public static let maxHeaderFieldBytes = 8 * 1024
    public static let maxHeaderListBytes = 32 * 1024
    public static let maxHeaderFields = 100
    /// Audit entries on the audit page.
    public static let auditPageSize = 200
    /// The idle expiry of a session unless configured (seconds).
    public static let defaultIdleSeconds: Double = 900
    /// A session that has not logged in expires sooner (seconds).
    public static let loginPageIdleSeconds: Double = 600
    /// Sessions listed per node on the cluster page.
    public static let clusterSessionsShown = 500
}
