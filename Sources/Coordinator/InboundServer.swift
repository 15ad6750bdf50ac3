import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import SMTPCore
import ServerSupport
import ServiceLifecycle
import SharedStore

/// The coordinator: LMTP and SMTP receivers, the socketmap lookups for Postfix, the pickup folder.
public final class InboundServer: Service, @unchecked Sendable {
    final class Shared: @unchecked Sendable {
        let configuration: CoordinatorConfiguration
        let delivery: InboundDelivery
        let threadPool: NIOThreadPool
        let tlsContext: NIOSSLContext?
        let logger: Logger
        private let handlers = NIOLockedValueBox([ObjectIdentifier: (InboundHandler, EventLoop)]())

        func register(_ handler: InboundHandler, on loop: EventLoop) {
            handlers.withLockedValue { $0[ObjectIdentifier(handler)] = (handler, loop) }
        }

        func unregister(_ handler: InboundHandler) {
            _ = handlers.withLockedValue { $0.removeValue(forKey: ObjectIdentifier(handler)) }
        }

        var connectionCount: Int { handlers.withLockedValue { $0.count } }

        /// Idle connections get 421 now; one in the middle of a transaction gets it when the transaction ends.
        func shutdownAll(force: Bool) {
            for (handler, loop) in handlers.withLockedValue({ Array($0.values) }) {
                loop.execute { handler.requestShutdown(force: force) }
            }
        }

        init(configuration: CoordinatorConfiguration, delivery: InboundDelivery, threadPool: NIOThreadPool, tlsContext: NIOSSLContext?, logger: Logger) {
            self.configuration = configuration
            self.delivery = delivery
            self.threadPool = threadPool
            self.tlsContext = tlsContext
            self.logger = logger
        }
    }

    public let configuration: CoordinatorConfiguration
    public let store: MailStore
    private let group: EventLoopGroup
    private let threadPool: NIOThreadPool
    private let logger: Logger
    private let channels = NIOLockedValueBox<[Channel]>([])
    private let pickupTask = NIOLockedValueBox<RepeatedTask?>(nil)
    private let sharedState = NIOLockedValueBox<Shared?>(nil)
    /// How long transactions in progress may finish at shutdown.
    public static let drainTime: TimeAmount = .seconds(10)
    public private(set) var lmtpAddresses: [SocketAddress] = []
    public private(set) var smtpAddresses: [SocketAddress] = []
    public private(set) var socketmapAddresses: [SocketAddress] = []

    public init(configuration: CoordinatorConfiguration, store: MailStore, group: EventLoopGroup, threadPool: NIOThreadPool, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.group = group
        self.threadPool = threadPool
        self.logger = logger
    }

    public func start() async throws {
        var tls: NIOSSLContext?
        if let cert = configuration.certificatePath, let key = configuration.privateKeyPath {
            tls = try await threadPool.runIfActive {
                try TLSContextLoader.serverContext(certificatePath: cert, privateKeyPath: key)
            }
        }
        let delivery = InboundDelivery(store: store, hostname: configuration.hostname)
        let shared = Shared(configuration: configuration, delivery: delivery, threadPool: threadPool, tlsContext: tls, logger: logger)
        sharedState.withLockedValue { $0 = shared }
        for address in configuration.lmtpListen {
            lmtpAddresses.append(try await bind(address) { InboundHandler(shared: shared, mode: .lmtp) })
        }
        for address in configuration.smtpListen {
            smtpAddresses.append(try await bind(address) { InboundHandler(shared: shared, mode: .smtp) })
        }
        for address in configuration.socketmapListen {
            socketmapAddresses.append(try await bind(address, autoRead: true) { SocketmapHandler(shared: shared) })
        }
        for a in lmtpAddresses { logger.info("LMTP listening on \(a)") }
        for a in smtpAddresses { logger.info("SMTP listening on \(a)") }
        for a in socketmapAddresses { logger.info("socketmap listening on \(a)") }
        if configuration.pickupInterval > .zero {
            let pickup = PickupFolder(delivery: delivery, maxMessageSize: configuration.maxMessageSize, logger: logger)
            try await threadPool.runIfActive { try pickup.ensureFolders() }
            let pool = threadPool
            let logger = self.logger
            let loop = group.next()
            let task = loop.scheduleRepeatedAsyncTask(initialDelay: .zero, delay: configuration.pickupInterval) { _ in
                pool.runIfActive(eventLoop: loop) {
                    do { try pickup.scan() } catch { logger.warning("pickup scan failed: \(error)") }
                }
            }
            pickupTask.withLockedValue { $0 = task }
        }
    }

    private func bind(_ address: SocketAddress, autoRead: Bool = false, _ make: @escaping @Sendable () -> ChannelHandler) async throws -> SocketAddress {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: autoRead)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(make()) }
            }
            .bind(to: address).get()
        channels.withLockedValue { $0.append(channel) }
        return channel.localAddress!
    }

    public func shutdown() async {
        if let task = pickupTask.withLockedValue({ $0 }) {
            let promise = group.next().makePromise(of: Void.self)
            task.cancel(promise: promise)
            try? await promise.futureResult.get()
        }
        for channel in channels.withLockedValue({ $0 }) { try? await channel.close() }
        if let shared = sharedState.withLockedValue({ $0 }) {
            // 421 to every client (RFC 5321 §3.8); a transaction under way finishes first, within the drain time.
            shared.shutdownAll(force: false)
            let deadline = NIODeadline.now() + Self.drainTime
            while shared.connectionCount > 0 && NIODeadline.now() < deadline {
                try? await Task.sleep(nanoseconds: 50_000_000)
            }
            shared.shutdownAll(force: true)
        }
        logger.info("coordinator stopped")
    }

    public func run() async throws {
        try await start()
        try? await gracefulShutdown()
        await shutdown()
    }
}
