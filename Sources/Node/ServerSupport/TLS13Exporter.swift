import Crypto
import Foundation

/// The TLS 1.3 exporter (RFC 8446 §7.5) from a connection's exporter secret, for the tls-exporter channel binding
/// (RFC 9266 §2: label "EXPORTER-Channel-Binding", no context, 32 bytes). The hash is the cipher suite's, told by
/// the secret's length (32: SHA-256; 48: SHA-384).
public enum TLS13Exporter {
    public static let channelBindingLabel = "EXPORTER-Channel-Binding"
    public static let channelBindingLength = 32

    public static func channelBinding(exporterSecret: [UInt8]) -> [UInt8]? {
        export(secret: exporterSecret, label: channelBindingLabel, context: [], length: channelBindingLength)
    }

    /// TLS-Exporter(label, context_value, key_length) = HKDF-Expand-Label(Derive-Secret(Secret, label, ""),
    /// "exporter", Hash(context_value), key_length).
    public static func export(secret: [UInt8], label: String, context: [UInt8], length: Int) -> [UInt8]? {
        switch secret.count {
        case SHA256.byteCount: return export(SHA256.self, secret: secret, label: label, context: context, length: length)
        case SHA384.byteCount: return export(SHA384.self, secret: secret, label: label, context: context, length: length)
        default: return nil
        }
    }

    private static func export<H: HashFunction>(_: H.Type, secret: [UInt8], label: String, context: [UInt8], length: Int) -> [UInt8] {
        let derived = expandLabel(H.self, secret: secret, label: label, context: Array(H.hash(data: [UInt8]())), length: H.Digest.byteCount)
        return expandLabel(H.self, secret: derived, label: "exporter", context: Array(H.hash(data: context)), length: length)
    }

    /// HKDF-Expand-Label (RFC 8446 §7.1): the info is uint16 length, opaque "tls13 " + label, opaque context.
    static func expandLabel<H: HashFunction>(_: H.Type, secret: [UInt8], label: String, context: [UInt8], length: Int) -> [UInt8] {
        let fullLabel = Array("tls13 \(label)".utf8)
        var info: [UInt8] = [UInt8(length >> 8), UInt8(length & 0xFF), UInt8(fullLabel.count)]
        info += fullLabel
        info.append(UInt8(context.count))
        info += context
        let key = HKDF<H>.expand(pseudoRandomKey: SymmetricKey(data: secret), info: info, outputByteCount: length)
        return key.withUnsafeBytes { Array($0) }
    }
}
