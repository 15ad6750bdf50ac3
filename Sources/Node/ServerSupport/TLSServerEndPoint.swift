import Crypto
import NIOSSL

/// The tls-server-end-point channel binding (RFC 5929 §4.1): the hash of the server's certificate, with the hash of
/// its signature algorithm, or SHA-256 when that is MD5 or SHA-1. Computed once per certificate (at load and on
/// SIGHUP). Nil for a signature algorithm whose hash is not known here (RSASSA-PSS, Ed25519, ...): -PLUS is then
/// not offered with this binding.
public enum TLSServerEndPoint {
    public static func binding(_ certificate: NIOSSLCertificate) -> [UInt8]? {
        guard let der = try? certificate.toDERBytes() else { return nil }
        return binding(der: der)
    }

    public static func binding(der: [UInt8]) -> [UInt8]? {
        guard let oid = signatureAlgorithm(der) else { return nil }
        switch oid {
        // md5WithRSA, sha1WithRSA, ecdsa-with-SHA1, sha256WithRSA, ecdsa-with-SHA256: SHA-256.
        case [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x04], [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x05],
             [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x01], [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B],
             [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02]:
            return Array(SHA256.hash(data: der))
        // sha384WithRSA, ecdsa-with-SHA384.
        case [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0C], [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x03]:
            return Array(SHA384.hash(data: der))
        // sha512WithRSA, ecdsa-with-SHA512.
        case [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0D], [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x04]:
            return Array(SHA512.hash(data: der))
        default:
            return nil
        }
    }

    /// Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm AlgorithmIdentifier, signature BIT STRING }, and
    /// AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, ... }: the OID's content octets.
    static func signatureAlgorithm(_ der: [UInt8]) -> [UInt8]? {
        guard let certificate = element(der, at: 0, tag: 0x30) else { return nil }
        guard let tbs = element(der, at: certificate.content, tag: 0x30),
            let algorithm = element(der, at: tbs.end, tag: 0x30),
            let oid = element(der, at: algorithm.content, tag: 0x06)
        else { return nil }
        return Array(der[oid.content..<oid.end])
    }

    /// A DER element's content start and end, bounded by the buffer; nil when malformed.
    static func element(_ der: [UInt8], at offset: Int, tag: UInt8) -> (content: Int, end: Int)? {
        guard offset + 2 <= der.count, der[offset] == tag else { return nil }
        var length = Int(der[offset + 1])
        var content = offset + 2
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard count >= 1, count <= 4, content + count <= der.count else { return nil }
            length = 0
            for byte in der[content..<(content + count)] { length = length << 8 | Int(byte) }
            content += count
        }
        guard length <= der.count - content else { return nil }
        return (content, content + length)
    }
}
