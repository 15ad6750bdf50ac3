import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import ServerSupport
import ServiceLifecycle
import SharedStore

/// A POP3 node: listeners for POP3 (with STLS) and POP3S, admission control, the sessions, graceful shutdown.
/// Run it as a `Service` (the executable's `ServiceGroup` ends it on SIGTERM/SIGINT), or `start()`/`shutdown()` in tests.
public final class POP3Server: Service, @unchecked Sendable {
    /// What every connection handler shares.
    final class Shared: @unchecked Sendable {
        let configuration: NodeConfiguration
        let authenticator: Authenticator
        let limiter: ConnectionLimiter
        let threadPool: NIOThreadPool
        let tlsContext: NIOSSLContext?
        let logger: Logger
        private let sessions = NIOLockedValueBox([ObjectIdentifier: (POP3ServerHandler, EventLoop)]())
        private let pendingReleases = NIOLockedValueBox(0)

        init(configuration: NodeConfiguration, authenticator: Authenticator, threadPool: NIOThreadPool, tlsContext: NIOSSLContext?, logger: Logger) {
            self.configuration = configuration
            self.authenticator = authenticator
            self.limiter = ConnectionLimiter(maxActive: configuration.maxConnections, backlog: configuration.backlog)
            self.threadPool = threadPool
            self.tlsContext = tlsContext
            self.logger = logger
        }

        func register(_ handler: POP3ServerHandler, on loop: EventLoop) {
            sessions.withLockedValue { $0[ObjectIdentifier(handler)] = (handler, loop) }
        }

        func unregister(_ handler: POP3ServerHandler, on loop: EventLoop) {
            _ = sessions.withLockedValue { $0.removeValue(forKey: ObjectIdentifier(handler)) }
        }

        var sessionCount: Int { sessions.withLockedValue { $0.count } }
        var releasesInFlight: Int { pendingReleases.withLockedValue { $0 } }

        /// How long a lock release is retried while the store is unreachable (then the lease issue's stale-lock
        /// takeover is what frees the mailbox).
        static let releaseRetryLimit = 600

        /// Gives a mailbox lock back without deleting anything (disconnect, autologout, shutdown, after UPDATE).
        /// A store that does not answer is retried every second, so a lock is not left behind by an NFS outage.
        func releaseInBackground(_ session: MailboxSession, logger: Logger, attempt: Int = 0) {
            if attempt == 0 { pendingReleases.withLockedValue { $0 += 1 } }
            threadPool.submit { [self] _ in
                do {
                    try session.release()
                } catch let error as StoreError where error.isTemporary && attempt < Self.releaseRetryLimit {
                    if attempt == 0 { logger.warning("lock release failed, retrying every second: \(error)") }
                    MultiThreadedEventLoopGroup.singleton.next().scheduleTask(in: .seconds(1)) {
                        self.releaseInBackground(session, logger: logger, attempt: attempt + 1)
                    }
                    return
                } catch {
                    logger.error("lock release failed: \(error)")
                }
                if attempt > 0 { logger.info("lock released after \(attempt) retries") }
                pendingReleases.withLockedValue { $0 -= 1 }
            }
        }

        func shutdownAllSessions() {
            for (handler, loop) in sessions.withLockedValue({ Array($0.values) }) {
                loop.execute { handler.requestShutdown() }
            }
        }

        func shutdownSessionsNotLoggedIn() {
            for (handler, loop) in sessions.withLockedValue({ Array($0.values) }) {
                loop.execute { handler.shutdownIfNotLoggedIn() }
            }
        }
    }

    public let configuration: NodeConfiguration
    public let store: MailStore
    private let group: EventLoopGroup
    private let threadPool: NIOThreadPool
    private var logger: Logger
    /// The POP3 listeners close when shutdown starts; the health listeners stay to answer 503 while draining.
    private let state = NIOLockedValueBox<(shared: Shared?, channels: [Channel], httpChannels: [Channel])>((nil, [], []))

    private let metrics: (@Sendable () -> [UInt8])?

    /// `metrics`: renders this process's metrics for `GET /metrics` on the health listener (the executable
    /// bootstraps the backend; the library only emits).
    public init(configuration: NodeConfiguration, store: MailStore, group: EventLoopGroup, threadPool: NIOThreadPool, logger: Logger,
                metrics: (@Sendable () -> [UInt8])? = nil) {
        self.metrics = metrics
        self.configuration = configuration
        self.store = store
        self.group = group
        self.threadPool = threadPool
        var logger = logger
        logger[metadataKey: "node"] = .string(configuration.nodeID)
        self.logger = logger
    }

    /// The addresses actually bound (port 0 resolved), plain listeners first.
    public private(set) var boundAddresses: [SocketAddress] = []
    public private(set) var boundTLSAddresses: [SocketAddress] = []
    public private(set) var boundHTTPAddresses: [SocketAddress] = []

    /// Set when shutdown starts: readiness fails so the load balancer stops sending new clients.
    private let draining = NIOLockedValueBox(false)
    public var isDraining: Bool { draining.withLockedValue { $0 } }

    /// Binds the listeners and starts accepting.
    public func start() async throws {
        let tlsContext = try await makeTLSContext()
        if !configuration.tlsListen.isEmpty && tlsContext == nil {
            throw NodeError.configuration("--tls-listen needs --cert and --key")
        }
        let cache = LoginCache(ttl: configuration.loginCacheTTL, capacity: configuration.loginCacheSize)
        let authenticator = Authenticator(store: store, nodeID: configuration.nodeID, cache: cache)
        let shared = Shared(configuration: configuration, authenticator: authenticator, threadPool: threadPool, tlsContext: tlsContext, logger: logger)
        var channels: [Channel] = []
        var httpChannels: [Channel] = []
        do {
            for address in configuration.listen {
                let channel = try await bind(address, shared: shared, implicitTLS: nil)
                channels.append(channel)
                boundAddresses.append(channel.localAddress!)
                logger.info("POP3 listening on \(channel.localAddress!)")
            }
            let probe = HealthHandler.Probe(isDraining: { [weak self] in self?.isDraining ?? true }, store: store, threadPool: threadPool, metrics: metrics)
            for address in configuration.httpListen {
                let channel = try await ServerBootstrap(group: group)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelInitializer { channel in
                        channel.pipeline.configureHTTPServerPipeline().flatMap { channel.pipeline.addHandler(HealthHandler(probe: probe)) }
                    }
                    .bind(to: address).get()
                httpChannels.append(channel)
                boundHTTPAddresses.append(channel.localAddress!)
                logger.info("HTTP health on \(channel.localAddress!)")
            }
            for address in configuration.tlsListen {
                let channel = try await bind(address, shared: shared, implicitTLS: tlsContext)
                channels.append(channel)
                boundTLSAddresses.append(channel.localAddress!)
                logger.info("POP3S listening on \(channel.localAddress!)")
            }
        } catch {
            for channel in channels + httpChannels { try? await channel.close() }
            throw NodeError.configuration("cannot listen: \(error)")
        }
        state.withLockedValue { $0 = (shared, channels, httpChannels) }
    }

    private func bind(_ address: SocketAddress, shared: Shared, implicitTLS: NIOSSLContext?) async throws -> Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: Int32(clamping: max(configuration.backlog, 128)))
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // The load balancer's connections start with a PROXY header, in front of TLS too.
                    if let remote = channel.remoteAddress, Self.isTrusted(remote, shared.configuration.proxyTrusted) {
                        try channel.pipeline.syncOperations.addHandler(ProxyProtocolHandler())
                    }
                    if let implicitTLS {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: implicitTLS))
                    }
                    try channel.pipeline.syncOperations.addHandler(POP3ServerHandler(shared: shared, isTLS: implicitTLS != nil))
                }
            }
            .bind(to: address).get()
    }

    static func isTrusted(_ address: SocketAddress, _ networks: TrustedNetworks) -> Bool {
        guard !networks.isEmpty else { return false }
        switch address {
        case .v4(let a):
            return networks.contains(withUnsafeBytes(of: a.address.sin_addr) { Array($0) })
        case .v6(let a):
            return networks.contains(withUnsafeBytes(of: a.address.sin6_addr) { Array($0) })
        case .unixDomainSocket:
            return false
        }
    }

    private func makeTLSContext() async throws -> NIOSSLContext? {
        guard let certPath = configuration.certificatePath, let keyPath = configuration.privateKeyPath else {
            return nil
        }
        // Reading the PEM files and building the context blocks: done on the thread pool.
        do {
            return try await threadPool.runIfActive {
                try TLSContextLoader.serverContext(certificatePath: certPath, privateKeyPath: keyPath)
            }
        } catch {
            throw NodeError.configuration("\(error)")
        }
    }

    /// Stops accepting, lets sessions finish for up to `drainTime`, ends the rest (no UPDATE), and waits until
    /// every mailbox lock has been given back.
    public func shutdown() async {
        let (shared, channels, httpChannels) = state.withLockedValue { ($0.shared, $0.channels, $0.httpChannels) }
        draining.withLockedValue { $0 = true }
        for channel in channels { try? await channel.close() }
        await drain(shared)
        for channel in httpChannels { try? await channel.close() }
        logger.info("stopped")
    }

    private func drain(_ shared: Shared?) async {
        guard let shared else { return }
        logger.info("shutting down: \(shared.sessionCount) sessions, drain time \(configuration.drainTime.nanoseconds / 1_000_000_000) s")
        shared.shutdownSessionsNotLoggedIn()
        let deadline = NIODeadline.now() + configuration.drainTime
        while shared.sessionCount > 0 && NIODeadline.now() < deadline {
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        shared.shutdownAllSessions()
        let hardDeadline = NIODeadline.now() + .seconds(10)
        while (shared.sessionCount > 0 || shared.releasesInFlight > 0) && NIODeadline.now() < hardDeadline {
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
    }

    public func run() async throws {
        try await start()
        // Serve until the service group asks us to stop (SIGTERM, SIGINT) or the task is cancelled.
        try? await gracefulShutdown()
        await shutdown()
    }

    public var activeSessions: Int { state.withLockedValue { $0.shared?.sessionCount ?? 0 } }
}

public enum NodeError: Error, CustomStringConvertible {
    case configuration(String)
    public var description: String {
        switch self {
        case .configuration(let text): return text
        }
    }
}
