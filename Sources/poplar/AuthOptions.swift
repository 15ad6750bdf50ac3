import ArgumentParser
import Configuration
import NIOCore
import Node

/// Which account directory a node asks, and how to reach it (docs/configuration.md, `auth.*`).
struct AuthOptions: ParsableArguments {
    @Option(name: .customLong("auth"), help: "Account directory: passwd (the cluster's password file), ldap or pam (config auth.backend; default passwd).")
    var backend: String?
    @Option(name: .customLong("auth-timeout"), help: "Seconds a directory may take to answer one login; then [SYS/TEMP] (config auth.timeout; default 10).")
    var timeout: Double?
    @Option(name: .customLong("ldap-uri"), help: "ldap://HOST[:PORT] or ldaps://HOST[:PORT] (config auth.ldap.uri).") var ldapURI: String?
    @Option(name: .customLong("ldap-base"), help: "Search base for accounts (config auth.ldap.base).") var ldapBase: String?
    @Option(name: .customLong("ldap-filter"), help: "Search filter; %u is the login (user@domain), %l its local part, escaped per RFC 4515 (config auth.ldap.filter; default (mail=%u), with --ldap-preset ad (|(userPrincipalName=%u)(sAMAccountName=%l))).") var ldapFilter: String?
    @Option(name: .customLong("ldap-bind-dn"), help: "The service account that searches (config auth.ldap.bind-dn; default: anonymous search).") var ldapBindDN: String?
    @Option(name: .customLong("ldap-bind-password-file"), help: "File holding the service account's password (config auth.ldap.bind-password-file).") var ldapBindPasswordFile: String?
    @Option(name: .customLong("ldap-ca-file"), help: "CA certificates that verify the directory's certificate (config auth.ldap.ca-file).") var ldapCAFile: String?
    @Flag(name: .customLong("ldap-starttls"), help: "StartTLS on an ldap:// URI, certificate verified (config auth.ldap.starttls).") var ldapStartTLS = false
    @Option(name: .customLong("ldap-group-dn"), help: "Only members of this group may log in (config auth.ldap.group-dn; default: any account found).") var ldapGroupDN: String?
    @Option(name: .customLong("ldap-preset"), help: "openldap or ad (Active Directory: userPrincipalName/sAMAccountName, memberOf) (config auth.ldap.preset; default openldap).") var ldapPreset: String?
    @Option(name: .customLong("ldap-pool-size"), help: "Connections kept to the directory for searches, and as many for password binds, 1-64 (config auth.ldap.pool-size; default 4).") var ldapPoolSize: Int?
    @Flag(name: .customLong("auth-autocreate"), help: "With --auth ldap or pam: create an account's mailbox at its first login or delivery (config auth.autocreate; default off).")
    var autocreate = false
    @Option(name: .customLong("pam-service"), help: "PAM service, /etc/pam.d/NAME (config auth.pam.service; default poplar).") var pamService: String?
    @Option(name: .customLong("pam-group"), help: "Only members of this Unix group may log in; \"\" for any account (config auth.pam.group; default pop3users).") var pamGroup: String?

    func configuration(_ reader: ConfigReader) throws -> AuthConfiguration {
        var c = AuthConfiguration()
        if let t = timeout ?? reader.double(forKey: "auth.timeout") {
            guard t.isFinite, t > 0, t <= 300 else { throw UserError("auth timeout must be more than 0 to 300 seconds, not \(t)") }
            c.timeout = .nanoseconds(Int64(t * 1_000_000_000))
        }
        let name = backend ?? reader.string(forKey: "auth.backend") ?? "passwd"
        switch name {
        case "passwd":
            c.method = .passwd
        case "ldap":
            guard let uri = ldapURI ?? reader.string(forKey: "auth.ldap.uri"), uri.hasPrefix("ldap://") || uri.hasPrefix("ldaps://") else {
                throw UserError("--auth ldap needs --ldap-uri ldap://HOST or ldaps://HOST")
            }
            guard let base = ldapBase ?? reader.string(forKey: "auth.ldap.base"), !base.isEmpty else { throw UserError("--auth ldap needs --ldap-base") }
            let presetName = ldapPreset ?? reader.string(forKey: "auth.ldap.preset") ?? "openldap"
            guard let preset = LDAPSettings.Preset(rawValue: presetName) else { throw UserError("LDAP preset must be openldap or ad, not \(presetName)") }
            let filter = ldapFilter ?? reader.string(forKey: "auth.ldap.filter")
            if let filter, !(filter.hasPrefix("(") && filter.hasSuffix(")") && (filter.contains("%u") || filter.contains("%l"))) {
                throw UserError("LDAP filter must be a parenthesised filter naming %u or %l, not \(filter)")
            }
            let poolSize = ldapPoolSize ?? reader.int(forKey: "auth.ldap.pool-size") ?? 4
            guard (1...64).contains(poolSize) else { throw UserError("LDAP pool size must be 1 to 64, not \(poolSize)") }
            c.method = .ldap(LDAPSettings(
                uri: uri, base: base, filter: filter,
                bindDN: ldapBindDN ?? reader.string(forKey: "auth.ldap.bind-dn"),
                bindPasswordFile: ldapBindPasswordFile ?? reader.string(forKey: "auth.ldap.bind-password-file"),
                caFile: ldapCAFile ?? reader.string(forKey: "auth.ldap.ca-file"),
                startTLS: ldapStartTLS || reader.bool(forKey: "auth.ldap.starttls", default: false),
                groupDN: ldapGroupDN ?? reader.string(forKey: "auth.ldap.group-dn"),
                preset: preset, poolSize: poolSize))
        case "pam":
            let service = pamService ?? reader.string(forKey: "auth.pam.service") ?? PAMSettings.defaultService
            guard !service.isEmpty, service.utf8.count <= 64, service.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
                throw UserError("PAM service must be 1-64 characters of letters, digits, - _ and ., not \(service)")
            }
            let group = pamGroup ?? reader.string(forKey: "auth.pam.group") ?? PAMSettings.defaultGroup
            c.method = .pam(PAMSettings(service: service, group: group.isEmpty ? nil : group))
        default:
            throw UserError("auth backend must be passwd, ldap or pam, not \(name)")
        }
        c.autocreate = autocreate || reader.bool(forKey: "auth.autocreate", default: false)
        if c.autocreate, case .passwd = c.method {
            throw UserError("--auth-autocreate needs --auth ldap or pam: the password file's mailboxes are made by `poplar mailbox add`")
        }
        return c
    }
}
