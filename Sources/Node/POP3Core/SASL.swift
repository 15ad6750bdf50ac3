import Foundation

/// SASL mechanisms offered by AUTH (RFC 5034).
public enum SASLMechanism: String, Sendable, CaseIterable {
    /// RFC 4616: authzid NUL authcid NUL password.
    case plain = "PLAIN"
    /// The LOGIN mechanism (draft-murchison-sasl-login): user name, then password, each base64.
    case login = "LOGIN"
    /// RFC 2195: challenge-response with HMAC-MD5.
    case cramMD5 = "CRAM-MD5"
    /// RFC 5802, RFC 7677: salted challenge-response; the server keeps no password equivalent.
    case scramSHA256 = "SCRAM-SHA-256"
    /// The same bound to the TLS channel (RFC 5802 §6; tls-server-end-point, RFC 5929; tls-exporter, RFC 9266).
    case scramSHA256Plus = "SCRAM-SHA-256-PLUS"
    /// RFC 7628: an OAuth 2.0 bearer token (a JWT, checked offline against the configured keys).
    case oauthBearer = "OAUTHBEARER"
    /// Google's XOAUTH2: the same token in an older frame, still what many clients send.
    case xoauth2 = "XOAUTH2"
    /// [MS-NLMP] NTLMv2, the seed's "Secure Password Authentication": legacy, off by default, only for mailboxes
    /// that keep the sealed secret (`--apop`).
    case ntlm = "NTLM"

    /// Sends the password itself, so only over TLS or where plaintext is allowed (RFC 2595 §2.1).
    public var isPlaintext: Bool {
        switch self {
        // A bearer token is a credential that works until it expires: the same rule as a password (RFC 7628 §5).
        case .plain, .login, .oauthBearer, .xoauth2: return true
        case .cramMD5, .scramSHA256, .scramSHA256Plus, .ntlm: return false
        }
    }
}

/// Public for the fuzz targets (Tests/Fuzz).
public enum SASLCodec {
    /// Strict base64 (RFC 4648 §4), as RFC 5034 §4 requires; nil when invalid.
    public static func decode(_ text: String) -> [UInt8]? {
        if text.isEmpty { return [] }
        guard text.utf8.count <= POP3Limits.maxSASLResponseLength, text.utf8.count % 4 == 0,
            text.utf8.allSatisfy({ ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2B || $0 == 0x2F || $0 == 0x3D }),
            padding(of: text) != nil,
            let data = Data(base64Encoded: text)
        else { return nil }
        return Array(data)
    }

    /// The number of trailing "=" (at most 2), or nil when "=" appears anywhere else (Foundation alone is lenient
    /// there: it decodes "====" to one byte).
    private static func padding(of text: String) -> Int? {
        let bytes = Array(text.utf8)
        let pad = bytes.reversed().prefix { $0 == 0x3D }.count
        guard pad <= 2, !bytes.dropLast(pad).contains(0x3D) else { return nil }
        return pad
    }

    public static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
    }

    public static func encode(_ text: String) -> String { encode(Array(text.utf8)) }
}
