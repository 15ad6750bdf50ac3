import Admin
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Node
import ServerSupport
import SharedStore

/// `poplar console`: the web console over HTTPS (docs/console.md). Plain HTTP is never served: the session cookie
/// is `Secure`. Everything it changes goes through `AdminOperations`, as the CLI does.
public struct ConsoleServer: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var certificatePath: String
        public var privateKeyPath: String
        /// A session's idle expiry.
        public var idleSeconds: Double
        public var penalty: AuthPenalty.Policy
        /// Reverse proxies whose `X-Forwarded-For` names the client (none by default).
        public var trustedProxies: TrustedNetworks

        public init(host: String, port: Int, certificatePath: String, privateKeyPath: String,
                    idleSeconds: Double = ConsoleLimits.defaultIdleSeconds, penalty: AuthPenalty.Policy = AuthPenalty.Policy(),
                    trustedProxies: TrustedNetworks = TrustedNetworks()) {
            self.trustedProxies = trustedProxies
            self.host = host
            self.port = port
            self.certificatePath = certificatePath
            self.privateKeyPath = privateKeyPath
            self.idleSeconds = idleSeconds
            self.penalty = penalty
        }
    }

    /// Threads for store calls and password hashing.
    public static let threadPoolSize = 4

    /// The console's application, without TLS: what the tests drive (HummingbirdTesting) and `run` serves.
    public static func application(store: MailStore, pool: NIOThreadPool, idleSeconds: Double = ConsoleLimits.defaultIdleSeconds,
                                   penalty: AuthPenalty.Policy = AuthPenalty.Policy(), trustedProxies: TrustedNetworks = TrustedNetworks(),
                                   now: @escaping @Sendable () -> Date = { Date() },
                                   server: HTTPServerBuilder = .http1(), configuration: ApplicationConfiguration = .init(),
                                   logger: Logger, onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in })
        throws -> some ApplicationProtocol
    {
        let backend = ConsoleBackend(admin: AdminOperations(store: store), penalty: AuthPenalty(store: store, policy: penalty), pool: pool)
        let router = try ConsoleRoutes.router(backend: backend, sessions: SessionStore(idle: idleSeconds, now: now),
                                               trustedProxies: trustedProxies, logger: logger)
        return Application(router: router, server: server, configuration: configuration, onServerRunning: onServerRunning, logger: logger)
    }

    /// Serves until SIGTERM or SIGINT.
    public static func run(_ configuration: Configuration, store: MailStore, logger: Logger,
                           onServerRunning: @escaping @Sendable (any Channel) async -> Void) async throws {
        let pool = NIOThreadPool(numberOfThreads: threadPoolSize)
        pool.start()
        do {
            let tls = try await pool.runIfActive { try Self.tlsConfiguration(configuration) }
            let app = try application(
                store: store, pool: pool, idleSeconds: configuration.idleSeconds, penalty: configuration.penalty,
                trustedProxies: configuration.trustedProxies,
                server: try HTTPServerBuilder.tls(HTTPServerBuilder.http1(configuration: http1Configuration), tlsConfiguration: tls),
                configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port),
                                                        serverName: "poplar-console"),
                logger: logger, onServerRunning: onServerRunning)
            try await app.runService()
        } catch {
            try? await pool.shutdownGracefully()
            throw error
        }
        try await pool.shutdownGracefully()
    }

    /// HTTP/1.1 with the console's bounds (`ConsoleLimits`): idle connections closed, headers limited.
    static var http1Configuration: HTTP1Channel.Configuration {
        HTTP1Channel.Configuration(
            idleTimeout: .seconds(ConsoleLimits.connectionIdleSeconds),
            httpDecoderConfiguration: .init(maxHeaderFieldSize: ConsoleLimits.maxHeaderFieldBytes, maxHeaderListSize: ConsoleLimits.maxHeaderListBytes,
                                            maxHeaderFieldCount: ConsoleLimits.maxHeaderFields))
    }

    /// The certificate and key from PEM files; TLS 1.2 at least.
    static func tlsConfiguration(_ configuration: Configuration) throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMFile(configuration.certificatePath).map { NIOSSLCertificateSource.certificate($0) }
        guard !chain.isEmpty else { throw ConsoleError("no certificate in \(configuration.certificatePath)") }
        let key = try NIOSSLPrivateKey(file: configuration.privateKeyPath, format: .pem)
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        return tls
    }
}

public struct ConsoleError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
