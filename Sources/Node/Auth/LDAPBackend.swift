import CLDAP
import Foundation
import NIOCore
import POP3Core
import SharedStore

/// An LDAP directory or Active Directory (`auth.backend ldap`): the service account searches for the one entry the
/// filter names, the group gate is checked, then a bind as that entry with the user's password decides. Searches
/// and binds use two pools of connections (`poolSize` each): the search connections stay bound as the service
/// account, the bind connections are rebound for every login. Nothing is stored; the password is never logged.
public final class LDAPBackend: AuthBackend {
    public let settings: LDAPSettings
    public var name: String { "ldap" }
    /// APOP and CRAM-MD5 need the password itself: a directory only checks it.
    public var supportsSharedSecrets: Bool { false }

    /// Entries a search may return: one is the account, two is already "several" (rejected).
    static let searchSizeLimit: Int32 = 2
    /// Bind results that mean "not this account's password" (anything else is the directory's trouble):
    /// invalidCredentials, inappropriateAuthentication, unwillingToPerform (a disabled or unauthenticated bind).
    static let refusedBindCodes: Set<Int32> = [LDAP_INVALID_CREDENTIALS, LDAP_INAPPROPRIATE_AUTH, LDAP_UNWILLING_TO_PERFORM]
    /// The longest service-account password file read.
    static let maxPasswordFileBytes = 4096

    private let searches: LDAPConnectionPool
    private let binds: LDAPConnectionPool

    /// Reads the service account's password file and checks the URI and TLS settings (no connection is made: a
    /// directory down at start is `[SYS/TEMP]` for its logins, not a node that does not start).
    public init(settings: LDAPSettings, timeout: TimeAmount) throws {
        guard settings.poolSize >= 1 else { throw NodeError.configuration("auth.ldap pool size must be at least 1") }
        self.settings = settings
        // libldap writes to its sockets with write(2): a directory that closed a connection would raise SIGPIPE and
        // end the node. Ignored process-wide (SwiftNIO's sockets already use MSG_NOSIGNAL and see EPIPE).
        signal(SIGPIPE, SIG_IGN)
        let endpoint = LDAPEndpoint(uri: settings.uri, caFile: settings.caFile, startTLS: settings.startTLS, timeout: timeout)
        let service = try Self.serviceCredentials(settings)
        searches = LDAPConnectionPool(capacity: settings.poolSize, endpoint: endpoint) { connection throws(LDAPError) in
            guard let service else { return }
            let rc = try connection.bind(dn: service.dn, password: service.password)
            guard rc == LDAP_SUCCESS else { throw LDAPError(code: rc, context: "service account bind as \(service.dn)") }
        }
        binds = LDAPConnectionPool(capacity: settings.poolSize, endpoint: endpoint)
        do {
            _ = try LDAPConnection(endpoint, connecting: false)
        } catch {
            throw NodeError.configuration("auth.ldap: \(settings.uri): \(error)")
        }
    }

    public func verify(_ credentials: POP3Credentials, address: MailboxAddress) -> AuthVerdict {
        guard case .password(_, let password) = credentials else { return .rejected }
        return verify(login: address.description, localPart: address.mailbox, password: password)
    }

    /// The check itself, on the login as given (tests call it with names no mailbox may have).
    func verify(login: String, localPart: String, password: String) -> AuthVerdict {
        // RFC 4513 §5.1.2: a bind with a DN and no password is an unauthenticated bind that a directory may answer
        // "success". Refused here, before any directory call.
        guard !password.isEmpty else { return .rejected }
        do {
            guard let user = try findAccount(LDAPFilter.substitute(settings.filter, login: login, localPart: localPart)) else {
                return .rejected
            }
            guard try isInGroup(user) else { return .rejected }
            let rc = try binds.withConnection { connection throws(LDAPError) in try connection.bind(dn: user.dn, password: password) }
            if rc == LDAP_SUCCESS { return .accepted }
            if Self.refusedBindCodes.contains(rc) { return .rejected }
            return .unavailable(LDAPError(code: rc, context: "bind as \(user.dn)").description)
        } catch {
            return .unavailable("\(settings.uri): \(error)")
        }
    }

    /// The search and the group gate of a login, without the bind.
    public func lookupAccount(_ address: MailboxAddress) -> AccountLookup {
        do {
            guard let user = try findAccount(LDAPFilter.substitute(settings.filter, login: address.description, localPart: address.mailbox)),
                try isInGroup(user)
            else { return .unknown }
            return .exists
        } catch {
            return .unavailable("\(settings.uri): \(error)")
        }
    }

    /// The one entry the filter names; nil for none or several.
    private func findAccount(_ filter: String) throws(LDAPError) -> LDAPEntry? {
        let attributes = settings.preset == .ad && settings.groupDN != nil ? ["memberOf"] : [LDAPConnection.noAttributes]
        let (rc, entries) = try searches.withConnection { connection throws(LDAPError) in
            try connection.search(base: settings.base, scope: LDAP_SCOPE_SUBTREE, filter: filter, attributes: attributes,
                                  sizeLimit: Self.searchSizeLimit)
        }
        switch rc {
        case LDAP_SUCCESS: return entries.count == 1 ? entries[0] : nil
        case LDAP_SIZELIMIT_EXCEEDED: return nil
        default: throw LDAPError(code: rc, context: "search under \(settings.base)")
        }
    }

    /// The group gate (`groupDN`): `ad` reads the account's `memberOf`; `openldap` asks the group entry for the
    /// account's DN among its `member`/`uniqueMember` values.
    private func isInGroup(_ user: LDAPEntry) throws(LDAPError) -> Bool {
        guard let groupDN = settings.groupDN else { return true }
        switch settings.preset {
        case .ad:
            return LDAPDistinguishedName.contains(user.attributes["memberOf"] ?? [], groupDN)
        case .openldap:
            let (rc, entries) = try searches.withConnection { connection throws(LDAPError) in
                try connection.search(base: groupDN, scope: LDAP_SCOPE_BASE, filter: LDAPFilter.membership(of: user.dn),
                                      attributes: [LDAPConnection.noAttributes], sizeLimit: 1)
            }
            guard rc == LDAP_SUCCESS else { throw LDAPError(code: rc, context: "group \(groupDN)") }
            return !entries.isEmpty
        }
    }

    /// The service account's DN and password (the file's first line); nil for an anonymous search.
    static func serviceCredentials(_ settings: LDAPSettings) throws -> (dn: String, password: String)? {
        guard let dn = settings.bindDN else {
            guard settings.bindPasswordFile == nil else { throw NodeError.configuration("auth.ldap.bind-password-file needs auth.ldap.bind-dn") }
            return nil
        }
        guard let path = settings.bindPasswordFile else { throw NodeError.configuration("auth.ldap.bind-dn needs auth.ldap.bind-password-file") }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw NodeError.configuration("auth.ldap.bind-password-file \(path) cannot be read")
        }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: maxPasswordFileBytes + 1)) ?? Data()
        guard data.count <= maxPasswordFileBytes else { throw NodeError.configuration("auth.ldap.bind-password-file \(path) is too long") }
        let password = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).first
            .map { String($0.hasSuffix("\r") ? $0.dropLast() : $0) } ?? ""
        guard !password.isEmpty else { throw NodeError.configuration("auth.ldap.bind-password-file \(path) holds no password") }
        return (dn, password)
    }
}
