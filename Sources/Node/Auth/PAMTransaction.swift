import CPAM

/// One PAM transaction for one login: pam_start(service, user) → pam_authenticate(PAM_SILENT |
/// PAM_DISALLOW_NULL_AUTHTOK) → pam_acct_mgmt(PAM_SILENT) → pam_end. Blocking, and a module may hang: it runs on
/// its own thread under `PAMWatchdog`, never on a pool thread.
struct PAMTransaction {
    let service: String

    func run(_ credentials: PAMConversationCredentials) -> AuthVerdict {
        var conversation = pam_conv(conv: PAMConversation.function,
                                    appdata_ptr: Unmanaged.passUnretained(credentials).toOpaque())
        var handle: OpaquePointer?
        let started = withExtendedLifetime(credentials) {
            pam_start(service, credentials.user.baseAddress, &conversation, &handle)
        }
        guard started == PAM_SUCCESS, let handle else {
            return .unavailable("pam_start for service \(service) failed (\(started))")
        }
        var last = PAM_SUCCESS
        defer { pam_end(handle, last) }
        let verdict: AuthVerdict = withExtendedLifetime(credentials) {
            last = pam_authenticate(handle, Int32(bitPattern: PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK))
            if let refusal = Self.refusal(last, of: "pam_authenticate", handle: handle, rejecting: Self.authenticateRejections) {
                return refusal
            }
            last = pam_acct_mgmt(handle, Int32(bitPattern: PAM_SILENT))
            if let refusal = Self.refusal(last, of: "pam_acct_mgmt", handle: handle, rejecting: Self.accountRejections) {
                return refusal
            }
            return .accepted
        }
        return verdict
    }

    /// What the account's owner can change (a wrong password, an unknown or locked name, too many tries): a wrong
    /// login, answered as any other.
    static let authenticateRejections: Set<Int32> = [
        PAM_AUTH_ERR, PAM_USER_UNKNOWN, PAM_CRED_INSUFFICIENT, PAM_MAXTRIES, PAM_PERM_DENIED, PAM_ACCT_EXPIRED,
    ]
    /// The account is known and the password right, but it may not log in now: expired, its password expired or
    /// to be changed first (POP3 cannot), refused by a module (pam_access, pam_time).
    static let accountRejections: Set<Int32> = [
        PAM_AUTH_ERR, PAM_USER_UNKNOWN, PAM_ACCT_EXPIRED, PAM_AUTHTOK_EXPIRED, PAM_NEW_AUTHTOK_REQD, PAM_PERM_DENIED,
    ]

    /// Nil on success; `.rejected` for the codes of a wrong login; `.unavailable` for everything else (PAM_SYSTEM_ERR,
    /// PAM_BUF_ERR, PAM_AUTHINFO_UNAVAIL, PAM_ABORT, a module missing from the stack, …): never a wrong password.
    static func refusal(_ code: Int32, of call: String, handle: OpaquePointer, rejecting: Set<Int32>) -> AuthVerdict? {
        if code == PAM_SUCCESS { return nil }
        if rejecting.contains(code) { return .rejected }
        let text = pam_strerror(handle, code).map { String(cString: $0) } ?? "error \(code)"
        return .unavailable("\(call): \(text) (\(code))")
    }
}
