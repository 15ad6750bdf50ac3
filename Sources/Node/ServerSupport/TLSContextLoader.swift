import NIOConcurrencyHelpers
import NIOSSL

/// Builds a server TLS context from PEM files (certificate chain and private key) under a `TLSPolicy`.
/// Blocking (reads files): call it from a thread pool.
public enum TLSContextLoader {
    /// `keyLog` receives each handshake's secrets (for `TLSExporterSecrets`); nil: none.
    public static func serverContext(certificatePath: String, privateKeyPath: String, policy: TLSPolicy = TLSPolicy(),
                                     keyLog: NIOSSLKeyLogCallback? = nil) throws -> NIOSSLContext {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { NIOSSLCertificateSource.certificate($0) }
            guard !chain.isEmpty else { throw TLSContextError(description: "no certificate in \(certificatePath)") }
            let key = try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)
            var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            policy.apply(to: &tls)
            tls.keyLogCallback = keyLog
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw TLSContextError(description: "cannot load the TLS certificate \(certificatePath) or key \(privateKeyPath): \(error)")
        }
    }
}

public struct TLSContextError: Error, CustomStringConvertible {
    public var description: String
}

/// A server's TLS context that can be replaced while it serves (SIGHUP after a certificate renewal): connections
/// take the current one when they start TLS; sessions already in TLS keep theirs. A new certificate or key that
/// does not load leaves the old context in place.
public final class ReloadableTLSContext: Sendable {
    /// Where the context was last loaded from, and with which policy (a reload may name other files).
    public var certificatePath: String { state.withLockedValue { $0.source.certificatePath } }
    public var privateKeyPath: String { state.withLockedValue { $0.source.privateKeyPath } }
    public var policy: TLSPolicy { state.withLockedValue { $0.source.policy } }
    /// The TLS 1.3 exporter secrets of recent handshakes, for the tls-exporter channel binding (RFC 9266).
    public let exporterSecrets = TLSExporterSecrets()
    private let state: NIOLockedValueBox<(snapshot: Snapshot, source: Source)>

    struct Source: Sendable {
        var certificatePath: String
        var privateKeyPath: String
        var policy: TLSPolicy
    }

    /// A context with what SASL channel bindings need of its certificate.
    public struct Snapshot: Sendable {
        public var context: NIOSSLContext
        /// tls-server-end-point (RFC 5929 §4.1) of the leaf certificate; nil when its hash is not known.
        public var serverEndPoint: [UInt8]?
    }

    /// Blocking: call it from a thread pool.
    public init(certificatePath: String, privateKeyPath: String, policy: TLSPolicy) throws {
        let source = Source(certificatePath: certificatePath, privateKeyPath: privateKeyPath, policy: policy)
        state = NIOLockedValueBox((try Self.load(source, exporterSecrets), source))
    }

    public var current: NIOSSLContext { state.withLockedValue { $0.snapshot.context } }
    /// The context and its certificate's binding, taken together (a reload may come between two reads).
    public var snapshot: Snapshot { state.withLockedValue { $0.snapshot } }

    /// Reads the files again, or other files or another policy when given; on failure the old context stays and
    /// the error says why. Blocking.
    public func reload(certificatePath: String? = nil, privateKeyPath: String? = nil, policy: TLSPolicy? = nil) throws {
        var source = state.withLockedValue { $0.source }
        if let certificatePath { source.certificatePath = certificatePath }
        if let privateKeyPath { source.privateKeyPath = privateKeyPath }
        if let policy { source.policy = policy }
        let fresh = try Self.load(source, exporterSecrets)
        state.withLockedValue { $0 = (fresh, source) }
    }

    private static func load(_ source: Source, _ secrets: TLSExporterSecrets) throws -> Snapshot {
        let context = try TLSContextLoader.serverContext(certificatePath: source.certificatePath, privateKeyPath: source.privateKeyPath,
                                                         policy: source.policy, keyLog: secrets.keyLogCallback)
        let leaf = try? NIOSSLCertificate.fromPEMFile(source.certificatePath).first
        return Snapshot(context: context, serverEndPoint: leaf.flatMap { TLSServerEndPoint.binding($0) })
    }
}
