import POP3Core
import SharedStore

/// What an account directory says of a login's credentials.
public enum AuthVerdict: Sendable, Equatable {
    /// The credentials are the account's (and it passes the directory's group gate, if any).
    case accepted
    /// Wrong password, unknown account, outside the group, empty password, a mechanism the directory cannot check:
    /// all answered alike (`-ERR [AUTH]`), so none of them tells an attacker anything.
    case rejected
    /// The directory could not be asked (unreachable, timed out, misconfigured): `-ERR [SYS/TEMP]`, never a wrong
    /// password. The text is for the log only and must hold no secret.
    case unavailable(String)
}

/// Whether a directory knows an account (for a delivery, and for `auth.autocreate`), without its password.
public enum AccountLookup: Sendable, Equatable {
    /// The account exists (and passes the directory's group gate, if any).
    case exists
    case unknown
    /// The directory could not be asked: a delivery is deferred (4xx), never refused.
    case unavailable(String)
}

/// An account directory (`auth.backend`: `passwd`, `ldap`, `pam`): it only says whether credentials are an
/// account's; the `Authenticator` around it checks the domain and takes the mailbox lock. Every call blocks (a slow
/// hash, a network round trip, PAM) and runs on the thread pool, never on an event loop; each backend bounds its own
/// time (`AuthConfiguration.timeout`) and answers `unavailable` when it runs out.
public protocol AuthBackend: Sendable {
    /// `passwd`, `ldap`, `pam`: for logs and metrics.
    var name: String { get }
    /// APOP and CRAM-MD5 need a password equivalent that only the password file keeps (sealed by the GUID).
    var supportsSharedSecrets: Bool { get }
    /// SCRAM-SHA-256 needs the salted keys only the password file keeps.
    var supportsSCRAM: Bool { get }
    func verify(_ credentials: POP3Credentials, address: MailboxAddress) -> AuthVerdict
    /// Whether the directory knows the account `address` names (LDAP: the search and the group gate; PAM: the Unix
    /// account and the group). The password file answers from the store's mailboxes.
    func lookupAccount(_ address: MailboxAddress) -> AccountLookup
    /// Called instead of `verify` for a name that cannot be an account here (invalid, or a domain not accepted), so
    /// that the answer's timing does not tell it from a wrong password.
    func burnEquivalentWork(_ credentials: POP3Credentials)
}

extension AuthBackend {
    public var supportsSCRAM: Bool { false }
    public func burnEquivalentWork(_ credentials: POP3Credentials) {}
}
