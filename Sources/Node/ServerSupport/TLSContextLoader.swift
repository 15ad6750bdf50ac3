import NIOSSL

/// Builds a server TLS context from PEM files (certificate chain and private key), TLS 1.2 at least.
/// Blocking (reads files): call it from a thread pool.
public enum TLSContextLoader {
    public static func serverContext(certificatePath: String, privateKeyPath: String) throws -> NIOSSLContext {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)
            var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            tls.minimumTLSVersion = .tlsv12
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw TLSContextError(description: "cannot load the TLS certificate \(certificatePath) or key \(privateKeyPath): \(error)")
        }
    }
}

public struct TLSContextError: Error, CustomStringConvertible {
    public var description: String
}
