import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import SMTPCore
import ServerSupport
import ServiceLifecycle
import SharedStore

/// The coordinator: LMTP and SMTP receivers, the socketmap lookups for Postfix, the pickup folder.
// @unchecked Sendable: its `var`s (bound addresses) are written only in start(), before it serves; all else is immutable or in locks.
public final class InboundServer: Service, @unchecked Sendable {
    // @unchecked Sendable: every stored property is immutable and Sendable, or a lock (`lease`, `connections`).
    final class Shared: @unchecked Sendable {
        /// The coordinator's configuration as of now: SIGHUP replaces its live settings (`InboundServer.reload`).
        var configuration: CoordinatorConfiguration { live.withLockedValue { $0 } }
        let live: NIOLockedValueBox<CoordinatorConfiguration>
        let delivery: InboundDelivery
        let threadPool: NIOThreadPool
        /// The certificate and key for STARTTLS, replaced on SIGHUP (`reloadTLS`).
        let tls: ReloadableTLSContext?
        let logger: Logger
        /// The coordinators' lease, while this coordinator holds it.
        let lease = NIOLockedValueBox<HeldLock?>(nil)
        /// Active: holding the lease, inside its window. Only then is mail accepted and delivered.
        var isActive: Bool { lease.withLockedValue { $0 }.map { $0.lostReason == nil } ?? false }
        /// The LMTP and SMTP connections, for shutdown.
        let connections = ConnectionRegistry()

        var connectionCount: Int { connections.count }

        /// Idle connections get 421 now; one in the middle of a transaction gets it when the transaction ends.
        func shutdownAll(force: Bool) {
            connections.forEach { ($0.session as? InboundSession)?.requestShutdown(force: force) }
        }

        convenience init(configuration: CoordinatorConfiguration, delivery: InboundDelivery, threadPool: NIOThreadPool,
                         tls: ReloadableTLSContext?, logger: Logger) {
            self.init(live: NIOLockedValueBox(configuration), delivery: delivery, threadPool: threadPool, tls: tls, logger: logger)
        }

        init(live: NIOLockedValueBox<CoordinatorConfiguration>, delivery: InboundDelivery, threadPool: NIOThreadPool, tls: ReloadableTLSContext?,
             logger: Logger) {
            self.live = live
            self.delivery = delivery
            self.threadPool = threadPool
            self.tls = tls
            self.logger = logger
        }
    }

    /// As started, with the live settings of the last SIGHUP (`reload`).
    public var configuration: CoordinatorConfiguration { live.withLockedValue { $0 } }
    let live: NIOLockedValueBox<CoordinatorConfiguration>
    public let store: MailStore
    private let group: EventLoopGroup
    let threadPool: NIOThreadPool
    let logger: Logger
    private let channels = NIOLockedValueBox<[Channel]>([])
    private let pickupTask = NIOLockedValueBox<RepeatedTask?>(nil)
    private let leaseTask = NIOLockedValueBox<RepeatedTask?>(nil)
    let sharedState = NIOLockedValueBox<Shared?>(nil)
    /// How long transactions in progress may finish at shutdown.
    public static let drainTime: TimeAmount = .seconds(10)
    public private(set) var lmtpAddresses: [SocketAddress] = []
    public private(set) var smtpAddresses: [SocketAddress] = []
    public private(set) var socketmapAddresses: [SocketAddress] = []

    private let metrics: (@Sendable () -> [UInt8])?
    public private(set) var httpAddresses: [SocketAddress] = []

    /// `metrics`: renders this process's metrics for `GET /metrics` (the executable bootstraps the backend).
    public init(configuration: CoordinatorConfiguration, store: MailStore, group: EventLoopGroup, threadPool: NIOThreadPool, logger: Logger,
                metrics: (@Sendable () -> [UInt8])? = nil) {
        self.metrics = metrics
        self.live = NIOLockedValueBox(configuration)
        self.store = store
        self.group = group
        self.threadPool = threadPool
        self.logger = logger
    }

    public func start() async throws {
        let configuration = self.configuration, live = self.live
        var tls: ReloadableTLSContext?
        if let cert = configuration.certificatePath, let key = configuration.privateKeyPath {
            let policy = configuration.tlsPolicy
            tls = try await threadPool.runIfActive {
                try ReloadableTLSContext(certificatePath: cert, privateKeyPath: key, policy: policy)
            }
        }
        let recipients = RecipientResolver(store: store, directory: configuration.recipientDirectory, autocreate: configuration.autocreate)
        let delivery = InboundDelivery(store: store, hostname: configuration.hostname, recipients: recipients)
        let shared = Shared(live: live, delivery: delivery, threadPool: threadPool, tls: tls, logger: logger)
        let mtaNetworks: @Sendable () -> TrustedNetworks = { live.withLockedValue { $0.mtaNetworks } }
        sharedState.withLockedValue { $0 = shared }
        let smtpOptions = InboundSession.connectionOptions(configuration)
        for address in configuration.lmtpListen {
            lmtpAddresses.append(try await bind(address, allowed: mtaNetworks) {
                let session = InboundSession(shared: shared, mode: .lmtp)
                return LineConnection(session: session, id: session.sessionID, options: smtpOptions, registry: shared.connections)
            })
        }
        for address in configuration.smtpListen {
            smtpAddresses.append(try await bind(address) {
                let session = InboundSession(shared: shared, mode: .smtp)
                return LineConnection(session: session, id: session.sessionID, options: smtpOptions, registry: shared.connections)
            })
        }
        let socketmapOptions = SocketmapSession.connectionOptions(configuration)
        for address in configuration.socketmapListen {
            socketmapAddresses.append(try await bind(address, allowed: mtaNetworks) {
                LineConnection(session: SocketmapSession(shared: shared), id: "socketmap", options: socketmapOptions)
            })
        }
        let pool = threadPool
        let probe = HealthHandler.Probe(
            readiness: { [store] loop in
                pool.runIfActive(eventLoop: loop) { try store.checkReachable() }.map { nil }.recover { "store unreachable: \($0)" }
            },
            active: { shared.isActive },
            metrics: metrics)
        for address in configuration.httpListen {
            let channel = try await HealthHandler.bind(address, group: group, probe: probe, allowed: mtaNetworks)
            channels.withLockedValue { $0.append(channel) }
            httpAddresses.append(channel.localAddress!)
        }
        for a in lmtpAddresses { logger.info("LMTP listening on \(a)") }
        for a in smtpAddresses { logger.info("SMTP listening on \(a)") }
        for a in socketmapAddresses { logger.info("socketmap listening on \(a)") }
        // Active or standby: the coordinators' lease decides; the first try runs now, so a lone coordinator
        // delivers from its first connection.
        await leaseTick(shared)
        let interval = TimeAmount.nanoseconds(Int64(store.lease.heartbeatNanoseconds))
        let leaseLoop = group.next()
        let leaseTask = leaseLoop.scheduleRepeatedAsyncTask(initialDelay: interval, delay: interval) { [weak self] _ in
            let promise = leaseLoop.makePromise(of: Void.self)
            let server = self
            promise.completeWithTask { await server?.leaseTick(shared) }
            return promise.futureResult
        }
        self.leaseTask.withLockedValue { $0 = leaseTask }
        if configuration.pickupInterval > .zero {
            let pickup = PickupFolder(delivery: delivery, maxMessageSize: { live.withLockedValue { $0.maxMessageSize } }, logger: logger)
            try await threadPool.runIfActive { try pickup.ensureFolders() }
            let pool = threadPool
            let logger = self.logger
            let loop = group.next()
            let task = loop.scheduleRepeatedAsyncTask(initialDelay: .zero, delay: configuration.pickupInterval) { _ in
                pool.runIfActive(eventLoop: loop) {
                    guard shared.isActive else { return }  // the standby leaves the pickup folder to the active one
                    do { try pickup.scan() } catch { logger.warning("pickup scan failed: \(error)") }
                }
            }
            pickupTask.withLockedValue { $0 = task }
        }
    }

    /// Every L/3: the active coordinator heartbeats its lease (and steps down if it lost it); a standby tries to
    /// take it (a free lease at once, a dead holder's after one lease).
    private func leaseTick(_ shared: Shared) async {
        let store = self.store, id = configuration.coordinatorID
        if let held = shared.lease.withLockedValue({ $0 }) {
            let beat = (try? await threadPool.runIfActive { held.heartbeat() }) ?? .unconfirmed("thread pool stopped")
            switch beat {
            case .confirmed:
                return
            case .unconfirmed(let why):
                logger.warning("coordinator lease heartbeat not confirmed: \(why)")
                guard let lost = held.lostReason else { return }
                stepDown(shared, held, lost)
            case .lost(let why):
                stepDown(shared, held, why)
            }
            return
        }
        do {
            let held = try await threadPool.runIfActive { try store.takeLease(MailStore.coordinatorLease, holder: id) }
            shared.lease.withLockedValue { $0 = held }
            Counter(label: "poplar_coordinator_lease_acquired_total").increment()
            logger.notice("active coordinator: holding the coordinators' lease", metadata: ["coordinator.takeover": .stringConvertible(held.owner.since)])
        } catch let refusal as LockRefusal {
            if case .inUse(let holder) = refusal { logger.debug("standby: coordinator \(holder.node) is active") }
        } catch {
            logger.warning("coordinator lease could not be taken: \(error)")
        }
    }

    private func stepDown(_ shared: Shared, _ held: HeldLock, _ why: String) {
        shared.lease.withLockedValue { $0 = nil }
        Counter(label: "poplar_coordinator_lease_lost_total").increment()
        logger.error("lost the coordinators' lease, standing by (mail is answered 4xx): \(why)")
        threadPool.submit { _ in try? held.release() }
    }

    /// Active or standing by (for tests and the log).
    public var isActive: Bool { sharedState.withLockedValue { $0 }?.isActive ?? false }

    /// `allowed`: nil serves anyone (SMTP); else a peer outside the networks is closed before the greeting.
    private func bind(_ address: SocketAddress, allowed: (@Sendable () -> TrustedNetworks)? = nil, _ make: @escaping @Sendable () -> ChannelHandler) async throws -> SocketAddress {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelOption(.writeBufferWaterMark, value: ConnectionLimits.writeBufferWaterMark)
            .childChannelInitializer { channel in
                if let allowed, allowed().refuse(channel) {
                    Counter(label: "poplar_coordinator_connections_refused_total", dimensions: [("reason", "network")]).increment()
                    return channel.eventLoop.makeSucceededVoidFuture()
                }
                return channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(make()) }
            }
            .bind(to: address).get()
        channels.withLockedValue { $0.append(channel) }
        return channel.localAddress!
    }

    public func shutdown() async {
        leaseTask.withLockedValue { $0?.cancel() }
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
            // Give the lease back, so a standby takes over at once rather than after a lease.
            if let held = shared.lease.withLockedValue({ l -> HeldLock? in defer { l = nil }; return l }) {
                _ = try? await threadPool.runIfActive { try held.release() }
            }
        }
        logger.info("coordinator stopped")
    }

    public func run() async throws {
        try await start()
        try? await gracefulShutdown()
        await shutdown()
    }
}
