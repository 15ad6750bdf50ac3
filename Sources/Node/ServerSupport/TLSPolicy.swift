import NIOSSL

/// What a TLS listener accepts. By default TLS 1.3 (whose suites are all AEAD with forward secrecy) and TLS 1.2 with
/// ECDHE key exchange and AEAD ciphers only: no static-RSA key exchange (no forward secrecy), no CBC (Lucky13,
/// POODLE's kin), no SHA-1 MACs. That is Mozilla's "intermediate" profile, which every mail client of the last
/// decade speaks; `minimumVersion` 1.3 is its "modern" profile.
public struct TLSPolicy: Sendable, Equatable {
    public enum Version: String, Sendable, CaseIterable {
        case tls12 = "1.2"
        case tls13 = "1.3"
    }

    /// The TLS 1.2 suites, in OpenSSL's cipher-list form (TLS 1.3's are fixed by BoringSSL, all AEAD).
    public static let defaultTLS12Ciphers = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    public var minimumVersion: Version
    public var tls12Ciphers: String

    public init(minimumVersion: Version = .tls12, tls12Ciphers: String = TLSPolicy.defaultTLS12Ciphers) {
        self.minimumVersion = minimumVersion
        self.tls12Ciphers = tls12Ciphers
    }

    func apply(to configuration: inout TLSConfiguration) {
        switch minimumVersion {
        case .tls12: configuration.minimumTLSVersion = .tlsv12
        case .tls13: configuration.minimumTLSVersion = .tlsv13
        }
        configuration.cipherSuites = tls12Ciphers
    }
}
