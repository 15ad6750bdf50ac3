/// The NTLM messages of AUTH NTLM ([MS-NLMP] §2.2.1, carried in POP3 as [MS-POP3] describes): the client's
/// NEGOTIATE and AUTHENTICATE are parsed, the server's CHALLENGE is built; no cryptography here. Every field is
/// bounded by the message, which is bounded by the SASL response line (`POP3Limits.maxSASLResponseLength`).
public enum NTLM {
    static let signature: [UInt8] = Array("NTLMSSP".utf8) + [0]

    public enum Failure: Error, Sendable, Equatable {
        case malformed
        /// An NTLMv1 or LM response: refused, they fall to offline attacks in minutes.
        case legacyResponse
    }

    /// NEGOTIATE_UNICODE, REQUEST_TARGET, NEGOTIATE_NTLM, ALWAYS_SIGN, TARGET_TYPE_DOMAIN, EXTENDED_SESSIONSECURITY,
    /// TARGET_INFO.
    static let challengeFlags: UInt32 = 0x0000_0001 | 0x0000_0004 | 0x0000_0200 | 0x0000_8000 | 0x0001_0000 | 0x0008_0000 | 0x0080_0000
    static let unicode: UInt32 = 0x0000_0001

    /// NEGOTIATE_MESSAGE: the signature and type 1 are all that matters (its flags only ask).
    public static func isNegotiate(_ message: [UInt8]) -> Bool {
        message.count >= 16 && Array(message.prefix(8)) == signature && le32(message, 8) == 1
    }

    /// CHALLENGE_MESSAGE: the server challenge, the target name (the NetBIOS-style domain) and the target info that
    /// makes clients answer with NTLMv2.
    public static func challenge(serverChallenge: [UInt8], target: String) -> [UInt8] {
        let name = utf16le(target)
        var info: [UInt8] = []
        for (id, value) in [(UInt16(2), name), (1, name), (4, utf16le(target.lowercased())), (3, utf16le(target.lowercased()))] {
            info += le16(id) + le16(UInt16(value.count)) + value
        }
        info += [0, 0, 0, 0]  // MsvAvEOL
        let headerLength = 48
        var out = signature + le32v(2)
        out += le16(UInt16(name.count)) + le16(UInt16(name.count)) + le32v(UInt32(headerLength))
        out += le32v(challengeFlags)
        out += serverChallenge
        out += [UInt8](repeating: 0, count: 8)
        out += le16(UInt16(info.count)) + le16(UInt16(info.count)) + le32v(UInt32(headerLength + name.count))
        return out + name + info
    }

    /// AUTHENTICATE_MESSAGE with an NTLMv2 response.
    public struct Authenticate: Sendable, Equatable {
        public var user: String
        public var domain: String
        /// NTProofStr (16 bytes) followed by the client's blob.
        public var ntResponse: [UInt8]

        public init(parsing message: [UInt8]) throws(Failure) {
            guard message.count >= 64, Array(message.prefix(8)) == NTLM.signature, le32(message, 8) == 3 else { throw .malformed }
            let flags = le32(message, 60)
            let nt = try field(message, at: 20)
            let domainBytes = try field(message, at: 28)
            let userBytes = try field(message, at: 36)
            // NTLMv2: NTProofStr plus a blob of at least 28 bytes that starts 0x01 0x01 (MS-NLMP §2.2.2.7).
            guard nt.count > 24 else { throw .legacyResponse }
            guard nt.count >= 16 + 28, nt[16] == 1, nt[17] == 1 else { throw .malformed }
            guard let user = NTLM.text(userBytes, unicode: flags & NTLM.unicode != 0), !user.isEmpty,
                let domain = NTLM.text(domainBytes, unicode: flags & NTLM.unicode != 0)
            else { throw .malformed }
            self.user = user
            self.domain = domain
            self.ntResponse = nt
        }
    }

    /// A security buffer (length, max length, offset), bounded by the message.
    static func field(_ m: [UInt8], at offset: Int) throws(Failure) -> [UInt8] {
        let length = Int(le16at(m, offset)), start = Int(le32(m, offset + 4))
        guard start >= 0, start <= m.count, length <= m.count - start else { throw .malformed }
        return Array(m[start..<(start + length)])
    }

    static func text(_ bytes: [UInt8], unicode: Bool) -> String? {
        if !unicode { return bytes.allSatisfy({ $0 < 0x80 }) ? String(decoding: bytes, as: UTF8.self) : nil }
        guard bytes.count % 2 == 0 else { return nil }
        var units: [UInt16] = []
        for i in stride(from: 0, to: bytes.count, by: 2) { units.append(UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8) }
        return String(validating: units, as: UTF16.self)
    }

    public static func utf16le(_ text: String) -> [UInt8] {
        text.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
    }

    static func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
    static func le32v(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) } }
    static func le16at(_ m: [UInt8], _ o: Int) -> UInt16 { o + 2 <= m.count ? UInt16(m[o]) | UInt16(m[o + 1]) << 8 : 0 }
    static func le32(_ m: [UInt8], _ o: Int) -> UInt32 {
        guard o + 4 <= m.count else { return 0 }
        return (0..<4).reduce(UInt32(0)) { $0 | UInt32(m[o + $1]) << (8 * UInt32($1)) }
    }
}
