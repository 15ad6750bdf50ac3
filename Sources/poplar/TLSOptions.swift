import ArgumentParser
import Configuration
import ServerSupport

/// The TLS policy of a node or coordinator (docs/configuration.md, docs/security.md).
struct TLSPolicyOptions: ParsableArguments {
    @Option(name: .customLong("tls-min-version"), help: "Lowest TLS version offered, 1.2 or 1.3 (config tls.min-version; default 1.2).")
    var minVersion: String?
    @Option(name: .customLong("tls12-ciphers"), help: "TLS 1.2 cipher suites in OpenSSL's form (config tls.tls12-ciphers; default: ECDHE key exchange with AES-GCM or ChaCha20-Poly1305 only).")
    var tls12Ciphers: String?

    func policy(_ reader: ConfigReader) throws -> TLSPolicy {
        var policy = TLSPolicy()
        if let text = minVersion ?? reader.string(forKey: "tls.min-version") {
            guard let version = TLSPolicy.Version(rawValue: text) else { throw UserError("TLS minimum version must be 1.2 or 1.3, not \(text)") }
            policy.minimumVersion = version
        }
        if let ciphers = tls12Ciphers ?? reader.string(forKey: "tls.tls12-ciphers") {
            guard !ciphers.isEmpty, ciphers.utf8.count <= 2000 else { throw UserError("TLS 1.2 cipher list must be 1-2000 characters") }
            policy.tls12Ciphers = ciphers
        }
        return policy
    }
}
