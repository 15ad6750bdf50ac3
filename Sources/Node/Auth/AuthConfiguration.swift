import NIOCore

/// Which account directory a node asks (docs/configuration.md, `auth.*`).
public enum AuthMethod: Sendable, Equatable {
    /// The cluster's own password file: GUID-keyed slow hashes in the store (the seed's "encrypted password file").
    case passwd
    /// An LDAP directory or Active Directory (the seed's "Active Directory integrated").
    case ldap(LDAPSettings)
    /// The machine's own accounts through PAM (the seed's "local Windows accounts").
    case pam(PAMSettings)

    public var name: String {
        switch self {
        case .passwd: return "passwd"
        case .ldap: return "ldap"
        case .pam: return "pam"
        }
    }
}

public struct AuthConfiguration: Sendable, Equatable {
    public var method: AuthMethod
    /// The longest a directory may take to answer one login; past it the login is `[SYS/TEMP]`.
    public var timeout: TimeAmount
    /// OAUTHBEARER and XOAUTH2 (RFC 7628): how bearer tokens are checked; nil: not offered.
    public var oauth: OAuthSettings?
    /// `auth.autocreate`: with ldap or pam, an account's mailbox is created (external, no password record) at its
    /// first successful login, or at the first delivery to it (the coordinator asks the directory).
    public var autocreate = false

    public static let defaultTimeout: TimeAmount = .seconds(10)

    public init(method: AuthMethod = .passwd, timeout: TimeAmount = AuthConfiguration.defaultTimeout) {
        self.method = method
        self.timeout = timeout
    }
}

/// `--ldap-*` / `auth.ldap.*`.
public struct LDAPSettings: Sendable, Equatable {
    public enum Preset: String, Sendable, CaseIterable {
        /// A plain LDAP directory: the filter as given (default `(mail=%u)`), group membership by the group's
        /// `member` values.
        case openldap
        /// Active Directory: `(|(userPrincipalName=%u)(sAMAccountName=%l))` unless a filter is given, group
        /// membership by the account's `memberOf`.
        case ad
    }

    /// `ldap://host[:port]` (StartTLS when `startTLS`) or `ldaps://host[:port]`.
    public var uri: String
    /// Where accounts are searched.
    public var base: String
    /// The search filter; `%u` is the login name (user@domain), `%l` its local part, both escaped per RFC 4515.
    public var filter: String
    /// The service account that searches; nil: an anonymous search.
    public var bindDN: String?
    /// A file holding the service account's password (never on the command line).
    public var bindPasswordFile: String?
    /// CA certificates that verify the directory's certificate (ldaps:// and StartTLS).
    public var caFile: String?
    /// StartTLS on an ldap:// URI.
    public var startTLS: Bool
    /// Only members of this group may log in (the seed's "POP3 Users"); nil: every account found.
    public var groupDN: String?
    public var preset: Preset
    /// Connections kept to the directory at most.
    public var poolSize: Int

    public static let defaultFilter = "(mail=%u)"
    public static let adFilter = "(|(userPrincipalName=%u)(sAMAccountName=%l))"

    public init(uri: String, base: String, filter: String? = nil, bindDN: String? = nil, bindPasswordFile: String? = nil,
                caFile: String? = nil, startTLS: Bool = false, groupDN: String? = nil, preset: Preset = .openldap, poolSize: Int = 4) {
        self.uri = uri
        self.base = base
        self.filter = filter ?? (preset == .ad ? Self.adFilter : Self.defaultFilter)
        self.bindDN = bindDN
        self.bindPasswordFile = bindPasswordFile
        self.caFile = caFile
        self.startTLS = startTLS
        self.groupDN = groupDN
        self.preset = preset
        self.poolSize = poolSize
    }
}

/// `--pam-*` / `auth.pam.*`.
public struct PAMSettings: Sendable, Equatable {
    /// The PAM service: /etc/pam.d/<service>.
    public var service: String
    /// Only members of this Unix group may log in (the seed's "POP3 Users"); nil: every account PAM accepts.
    public var group: String?

    public static let defaultService = "poplar"
    public static let defaultGroup = "pop3users"

    public init(service: String = PAMSettings.defaultService, group: String? = PAMSettings.defaultGroup) {
        self.service = service
        self.group = group
    }
}

/// `--oauth-*` / `auth.oauth.*`: bearer tokens are JWTs checked offline, against the keys of a JWKS file, an issuer
/// and an audience; the claim `userClaim` names the mailbox.
public struct OAuthSettings: Sendable, Equatable {
    public var jwksFile: String
    public var issuer: String
    public var audience: String
    /// email (default), sub, preferred_username or upn.
    public var userClaim: String
    /// Clock difference allowed on exp and nbf.
    public var leeway: TimeAmount

    public static let userClaims = ["email", "sub", "preferred_username", "upn"]
    public static let defaultLeeway: TimeAmount = .seconds(60)

    public init(jwksFile: String, issuer: String, audience: String, userClaim: String = "email", leeway: TimeAmount = OAuthSettings.defaultLeeway) {
        self.jwksFile = jwksFile
        self.issuer = issuer
        self.audience = audience
        self.userClaim = userClaim
        self.leeway = leeway
    }
}
