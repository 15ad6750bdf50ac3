import CLDAP
import Foundation
import NIOCore
import SharedStore

/// How to reach the directory: every connection is made alike.
struct LDAPEndpoint: Sendable {
    var uri: String
    var caFile: String?
    var startTLS: Bool
    /// Both the network timeout (connect, TLS) and every operation's time limit.
    var timeout: TimeAmount

    var isLDAPS: Bool { uri.lowercased().hasPrefix("ldaps://") }
    var usesTLS: Bool { isLDAPS || startTLS }
}

/// One entry from a search: its DN and the attributes asked for.
struct LDAPEntry: Sendable {
    var dn: String
    var attributes: [String: [String]]
}

/// One libldap handle (one TCP connection, made on its first operation or at StartTLS). Blocking; used by one
/// thread at a time, which `LDAPConnectionPool` guarantees.
// @unchecked Sendable: the pool hands a connection to one caller at a time and keeps it otherwise.
final class LDAPConnection: @unchecked Sendable {
    private let handle: OpaquePointer
    private let timeout: timeval

    /// The "no attributes" attribute list (RFC 4511 §4.5.1.8).
    static let noAttributes = "1.1"
    /// The most of a directory's diagnostic message kept in an error's text.
    static let maxDiagnosticLength = 200

    /// `connecting: false` only checks the URI and the TLS settings (the CA file is read): no StartTLS, no network.
    init(_ endpoint: LDAPEndpoint, connecting: Bool = true) throws(LDAPError) {
        var ld: OpaquePointer?
        let rc = ldap_initialize(&ld, endpoint.uri)
        guard rc == LDAP_SUCCESS, let ld else { throw LDAPError(code: rc, context: "ldap_initialize") }
        handle = ld
        let micro = max(endpoint.timeout.nanoseconds / 1000, 1)
        timeout = timeval(tv_sec: Int(micro / 1_000_000), tv_usec: Int(micro % 1_000_000))
        try configure(endpoint)
        if connecting && endpoint.startTLS && !endpoint.isLDAPS {
            try check(ldap_start_tls_s(handle, nil, nil), "StartTLS")
        }
    }

    deinit {
        ldap_unbind_ext_s(handle, nil, nil)
    }

    private func configure(_ endpoint: LDAPEndpoint) throws(LDAPError) {
        try check(poplar_ldap_set_int(handle, LDAP_OPT_PROTOCOL_VERSION, LDAP_VERSION3), "protocol version")
        // A referral would be followed with no credentials to another server: never.
        try check(poplar_ldap_set_bool(handle, LDAP_OPT_REFERRALS, 0), "referrals")
        try check(poplar_ldap_set_timeout(handle, LDAP_OPT_NETWORK_TIMEOUT, timeout.tv_sec, timeout.tv_usec), "network timeout")
        try check(poplar_ldap_set_timeout(handle, LDAP_OPT_TIMEOUT, timeout.tv_sec, timeout.tv_usec), "timeout")
        guard endpoint.usesTLS else { return }
        // The directory's certificate is always verified (host name included); against caFile when given, else
        // against the system's CAs (/etc/ldap/ldap.conf).
        if let caFile = endpoint.caFile {
            try check(poplar_ldap_set_string(handle, LDAP_OPT_X_TLS_CACERTFILE, caFile), "CA file \(caFile)")
        }
        try check(poplar_ldap_set_int(handle, LDAP_OPT_X_TLS_REQUIRE_CERT, LDAP_OPT_X_TLS_DEMAND), "require certificate")
        // The handle's TLS context is made now, with the settings above (0: a client's context).
        try check(poplar_ldap_set_int(handle, LDAP_OPT_X_TLS_NEWCTX, 0), "TLS context (CA file \(endpoint.caFile ?? "of /etc/ldap/ldap.conf"))")
    }

    /// A simple bind (RFC 4513 §5.1.3). The result code is the answer (invalidCredentials is one, not an error);
    /// a code that leaves the connection unusable is thrown. Never called with an empty password.
    func bind(dn: String, password: String) throws(LDAPError) -> Int32 {
        // An empty password is an unauthenticated bind (RFC 4513 §5.1.2), which a directory may "accept": never a login.
        guard !password.isEmpty else { return LDAP_INVALID_CREDENTIALS }
        var bytes = Array(password.utf8)
        let rc = bytes.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                var credentials = berval(bv_len: ber_len_t(chars.count), bv_val: chars.baseAddress)
                return ldap_sasl_bind_s(handle, dn, nil, &credentials, nil, nil, nil)  // nil mechanism: LDAP_SASL_SIMPLE
            }
        }
        for i in bytes.indices { bytes[i] = 0 }
        let error = LDAPError(code: rc, context: "bind" + diagnostic)
        if error.dropsConnection { throw error }
        return rc
    }

    /// A search; `sizeLimit` entries at most (more: sizeLimitExceeded, with the entries read so far).
    func search(base: String, scope: Int32, filter: String, attributes: [String], sizeLimit: Int32) throws(LDAPError) -> (code: Int32, entries: [LDAPEntry]) {
        var names: [UnsafeMutablePointer<CChar>?] = attributes.map { strdup($0) } + [nil]
        defer { names.forEach { free($0) } }
        var limit = timeout
        var result: OpaquePointer?
        let rc = ldap_search_ext_s(handle, base, scope, filter, &names, 0, nil, nil, &limit, sizeLimit, &result)
        defer { if result != nil { ldap_msgfree(result) } }
        let error = LDAPError(code: rc, context: "search" + diagnostic)
        if error.dropsConnection { throw error }
        var entries = [LDAPEntry]()
        var entry = ldap_first_entry(handle, result)
        while let current = entry {
            entries.append(read(current, attributes))
            entry = ldap_next_entry(handle, current)
        }
        return (rc, entries)
    }

    private func read(_ entry: OpaquePointer, _ attributes: [String]) -> LDAPEntry {
        var dn = ""
        if let raw = ldap_get_dn(handle, entry) {
            dn = String(cString: raw)
            ldap_memfree(raw)
        }
        var values = [String: [String]]()
        for name in attributes where name != Self.noAttributes {
            guard let list = ldap_get_values_len(handle, entry, name) else { continue }
            defer { ldap_value_free_len(list) }
            var strings = [String]()
            var i = 0
            while let value = list[i] {
                let buffer = UnsafeRawBufferPointer(start: value.pointee.bv_val, count: Int(value.pointee.bv_len))
                strings.append(String(decoding: buffer, as: UTF8.self))
                i += 1
            }
            values[name] = strings
        }
        return LDAPEntry(dn: dn, attributes: values)
    }

    private func check(_ rc: Int32, _ context: String) throws(LDAPError) {
        guard rc == LDAP_SUCCESS else { throw LDAPError(code: rc, context: context + diagnostic) }
    }

    /// The handle's diagnostic message (a TLS failure's reason, the server's text), as " (text)" or "".
    private var diagnostic: String {
        guard let raw = poplar_ldap_diagnostic(handle) else { return "" }
        defer { ldap_memfree(raw) }
        let text = String(cString: raw)
        return text.isEmpty ? "" : " (\(LogSafeText.escaped(text, limit: Self.maxDiagnosticLength)))"
    }
}
