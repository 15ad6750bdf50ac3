/// The client messages of OAUTHBEARER (RFC 7628 §3.1) and XOAUTH2 (Google's mechanism, the same bearer token in a
/// simpler frame), parsed with no I/O. A token is not checked here: the handler verifies it (signature, issuer,
/// audience, expiry) and maps it to a mailbox.
public struct OAuthBearerResponse: Sendable, Equatable {
    /// The identity the client names (OAUTHBEARER's authzid "a=", XOAUTH2's "user="); nil when OAUTHBEARER names none
    /// (the token's own claim then says who).
    public var user: String?
    /// The bearer token (RFC 6750 §2.1 b64token).
    public var token: String

    public enum Failure: Error, Sendable, Equatable {
        case malformed
        /// "p=" in the gs2 header: OAUTHBEARER has no channel binding (RFC 7628 §3.1).
        case channelBinding
    }

    static let separator: UInt8 = 0x01

    /// gs2-header kvsep *kvpair kvsep, where gs2-header is "n," or "y," then ["a=" saslname] ",".
    public init(oauthBearer message: [UInt8]) throws(Failure) {
        let parts = message.split(separator: Self.separator, omittingEmptySubsequences: false)
        // header, pairs..., "", "" (the message ends with kvsep kvsep).
        guard parts.count >= 3, parts[parts.count - 1].isEmpty, parts[parts.count - 2].isEmpty else { throw .malformed }
        let header = parts[0]
        let fields = header.split(separator: 0x2C, omittingEmptySubsequences: false)
        guard fields.count == 3, fields[2].isEmpty else { throw .malformed }
        switch Array(fields[0]) {
        case [UInt8(ascii: "n")], [UInt8(ascii: "y")]: break
        case let f where f.first == UInt8(ascii: "p"): throw .channelBinding
        default: throw .malformed
        }
        if fields[1].isEmpty {
            user = nil
        } else {
            guard fields[1].starts(with: Array("a=".utf8)), let name = try? SCRAMClientFirst.unescapeName(fields[1].dropFirst(2)),
                !name.isEmpty
            else { throw .malformed }
            user = name
        }
        var token: String?
        for pair in parts[1..<(parts.count - 2)] {
            // kvpair = key "=" value; key = 1*(ALPHA); only "auth" matters (host, port are informational).
            guard let eq = pair.firstIndex(of: 0x3D), eq > pair.startIndex,
                pair[..<eq].allSatisfy({ ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) })
            else { throw .malformed }
            if Array(pair[..<eq]) == Array("auth".utf8) { token = try Self.bearer(pair[(eq + 1)...]) }
        }
        guard let token else { throw .malformed }
        self.token = token
    }

    /// "user=" user ^A "auth=Bearer " token ^A ^A.
    public init(xoauth2 message: [UInt8]) throws(Failure) {
        let parts = message.split(separator: Self.separator, omittingEmptySubsequences: false)
        guard parts.count == 4, parts[2].isEmpty, parts[3].isEmpty, parts[0].starts(with: Array("user=".utf8)),
            parts[1].starts(with: Array("auth=".utf8))
        else { throw .malformed }
        guard let name = String(validating: parts[0].dropFirst(5), as: UTF8.self), !name.isEmpty else { throw .malformed }
        user = name
        token = try Self.bearer(parts[1].dropFirst(5))
    }

    /// "Bearer" (any case) SP b64token (RFC 6750 §2.1: ALPHA DIGIT "-" "." "_" "~" "+" "/", then "=" padding).
    static func bearer(_ value: ArraySlice<UInt8>) throws(Failure) -> String {
        guard value.count > 7, String(decoding: value.prefix(7), as: UTF8.self).lowercased() == "bearer " else { throw .malformed }
        let token = value.dropFirst(7)
        let body = token.prefix { $0 != 0x3D }
        guard !body.isEmpty, token.dropFirst(body.count).allSatisfy({ $0 == 0x3D }),
            body.allSatisfy({ ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39)
                || $0 == 0x2D || $0 == 0x2E || $0 == 0x5F || $0 == 0x7E || $0 == 0x2B || $0 == 0x2F })
        else { throw .malformed }
        return String(decoding: token, as: UTF8.self)
    }
}
