import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import ServerSupport
import ServiceLifecycle
import SharedStore

/// A POP3 node: listeners for POP3 (with STLS) and POP3S, admission control, the sessions, graceful shutdown.
/// Run it as a `Service` (the executable's `ServiceGroup` ends it on SIGTERM/SIGINT), or `start()`/`shutdown()` in tests.
// @unchecked Sendable: its `var`s (bound addresses, logger) are written only in init and start(), before it serves; all else is in locks.
public final class POP3Server: Service, @unchecked Sendable {
    /// What every connection handler shares.
    // @unchecked Sendable: every stored property is immutable and Sendable, or a lock.
    final class Shared: @unchecked Sendable {
        /// The node's configuration as of now: SIGHUP replaces its live settings (`POP3Server.reload`).
        var configuration: NodeConfiguration { live.withLockedValue { $0 } }
        let live: NIOLockedValueBox<NodeConfiguration>
        let authenticator: Authenticator
        let limiter: ConnectionLimiter
        let threadPool: NIOThreadPool
        /// The certificate and key for STLS and POP3S, replaced on SIGHUP (`reloadTLS`).
        let tls: ReloadableTLSContext?
        let logger: Logger
        /// Every open connection (admitted or queued), for drain, shutdown and kick.
        let connections = ConnectionRegistry()
        private let pendingReleases = NIOLockedValueBox(0)
        /// Logged-in sessions by id, for the node registry (`poplar cluster who`) and `poplar cluster kick`.
        private let loggedIn = NIOLockedValueBox([String: NodeRecord.Session]())
        /// Draining (`poplar node drain`, SIGTERM): new logins are refused with [SYS/TEMP], readiness fails.
        let draining: NIOLockedValueBox<Bool>
        var isDraining: Bool { draining.withLockedValue { $0 } }
        /// LOGIN-DELAY and EXPIRE as CAPA announces them before login, refreshed with the registry record.
        let policySummary = NIOLockedValueBox(DomainPolicySummary())

        func sessionLoggedIn(_ id: String, _ entry: NodeRecord.Session) { loggedIn.withLockedValue { $0[id] = entry } }
        func sessionEnded(_ id: String) { _ = loggedIn.withLockedValue { $0.removeValue(forKey: id) } }
        var loggedInSessions: [NodeRecord.Session] { loggedIn.withLockedValue { Array($0.values) } }

        /// Ends the session with this id (without UPDATE; its lock is released). False if none here.
        func kick(_ id: String) -> Bool {
            connections.forEach(id: id) { ($0.session as? POP3Session)?.requestShutdown(reason: "kicked") } > 0
        }

        convenience init(configuration: NodeConfiguration, authenticator: Authenticator, threadPool: NIOThreadPool,
                         tls: ReloadableTLSContext?, logger: Logger, draining: NIOLockedValueBox<Bool>) {
            self.init(live: NIOLockedValueBox(configuration), authenticator: authenticator, threadPool: threadPool, tls: tls, logger: logger,
                      draining: draining)
        }

        init(live: NIOLockedValueBox<NodeConfiguration>, authenticator: Authenticator, threadPool: NIOThreadPool, tls: ReloadableTLSContext?,
             logger: Logger, draining: NIOLockedValueBox<Bool>) {
            self.draining = draining
            self.live = live
            let configuration = live.withLockedValue { $0 }
            self.authenticator = authenticator
            self.limiter = ConnectionLimiter(maxActive: configuration.maxConnections, backlog: configuration.backlog,
                                             perAddress: configuration.maxConnectionsPerAddress)
            self.threadPool = threadPool
            self.tls = tls
            self.logger = logger
        }

        var sessionCount: Int { connections.count }
        var releasesInFlight: Int { pendingReleases.withLockedValue { $0 } }

        /// How long a lock release is retried while the store is unreachable (then the lease issue's stale-lock
        /// takeover is what frees the mailbox).
        static let releaseRetryLimit = 600

        /// Gives a mailbox lock back without deleting anything (disconnect, autologout, shutdown, after UPDATE).
        /// A store that does not answer is retried every second, so a lock is not left behind by an NFS outage.
        func releaseInBackground(_ session: MailboxSession, logger: Logger, attempt: Int = 0, journal: AccessRecord? = nil) {
            if attempt == 0 { pendingReleases.withLockedValue { $0 += 1 } }
            threadPool.submit { [self] _ in
                // The session's journal line first, while the lock is still ours; a journal that cannot be written
                // never keeps the lock.
                if let journal {
                    do { try session.appendJournal(journal) } catch { logger.warning("access journal not written: \(error)") }
                }
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
            connections.forEach { ($0.session as? POP3Session)?.requestShutdown() }
        }

        func shutdownSessionsNotLoggedIn() {
            connections.forEach { ($0.session as? POP3Session)?.shutdownIfNotLoggedIn() }
        }
    }

    /// As started, with the live settings of the last SIGHUP (`reload`).
    public var configuration: NodeConfiguration { live.withLockedValue { $0 } }
    let live: NIOLockedValueBox<NodeConfiguration>
    public let store: MailStore
    private let group: EventLoopGroup
    let threadPool: NIOThreadPool
    private(set) var logger: Logger
    /// The POP3 listeners close when shutdown starts; the health listeners stay to answer 503 while draining.
    let state = NIOLockedValueBox<(shared: Shared?, channels: [Channel], httpChannels: [Channel])>((nil, [], []))

    private let metrics: (@Sendable () -> [UInt8])?

    /// `metrics`: renders this process's metrics for `GET /metrics` on the health listener (the executable
    /// bootstraps the backend; the library only emits).
    public init(configuration: NodeConfiguration, store: MailStore, group: EventLoopGroup, threadPool: NIOThreadPool, logger: Logger,
                metrics: (@Sendable () -> [UInt8])? = nil) {
        self.metrics = metrics
        self.live = NIOLockedValueBox(configuration)
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
        let tls = try await makeTLSContext()
        if !configuration.tlsListen.isEmpty && tls == nil {
            throw NodeError.configuration("--tls-listen needs --cert and --key")
        }
        let cache = LoginCache(ttl: configuration.loginCacheTTL, capacity: configuration.loginCacheSize)
        let backend = try await threadPool.runIfActive { [store, configuration] in
            try AuthBackends.make(configuration.auth, store: store, cache: cache)
        }
        let bearer = try await threadPool.runIfActive { [configuration] in
            try configuration.auth.oauth.map { try BearerTokenVerifier(settings: $0) }
        }
        let base = Double(configuration.authFailureDelay.nanoseconds) / 1e9
        let penalty = configuration.authPenaltyMaximum > 0
            ? AuthPenalty(store: store, policy: .init(base: base, maximum: configuration.authPenaltyMaximum,
                                                      exempt: configuration.authPenaltyExempt))
            : nil
        let authenticator = Authenticator(store: store, nodeID: configuration.nodeID, backend: backend, bearer: bearer, penalty: penalty,
                                          autocreate: configuration.auth.autocreate)
        let shared = Shared(live: live, authenticator: authenticator, threadPool: threadPool, tls: tls, logger: logger,
                            draining: draining)
        var channels: [Channel] = []
        var httpChannels: [Channel] = []
        // Before the listeners: a login waits for the instance's first confirmed beat.
        await startLiveness()
        do {
            for address in configuration.listen {
                let channel = try await bind(address, shared: shared, implicitTLS: nil)
                channels.append(channel)
                boundAddresses.append(channel.localAddress!)
                logger.info("POP3 listening on \(channel.localAddress!)")
            }
            let store = self.store, pool = threadPool
            let probe = HealthHandler.Probe(
                readiness: { [weak self] loop in
                    if self?.isDraining ?? true { return loop.makeSucceededFuture("draining") }
                    // The store check blocks (a stat of .poplar/cluster, over NFS a round trip): on the thread pool.
                    return pool.runIfActive(eventLoop: loop) { try store.checkReachable() }
                        .map { nil }.recover { "store unreachable: \($0)" }
                },
                metrics: metrics)
            for address in configuration.httpListen {
                let channel = try await HealthHandler.bind(address, group: group, probe: probe,
                                                           allowed: { [live] in live.withLockedValue { $0.httpAllowed } })
                httpChannels.append(channel)
                boundHTTPAddresses.append(channel.localAddress!)
                logger.info("HTTP health on \(channel.localAddress!)")
            }
            for address in configuration.tlsListen {
                let channel = try await bind(address, shared: shared, implicitTLS: tls)
                channels.append(channel)
                boundTLSAddresses.append(channel.localAddress!)
                logger.info("POP3S listening on \(channel.localAddress!)")
            }
        } catch {
            for channel in channels + httpChannels { try? await channel.close() }
            if let beater = beater.withLockedValue({ $0 }) { _ = try? await threadPool.runIfActive { beater.stop() } }
            throw NodeError.configuration("cannot listen: \(error)")
        }
        state.withLockedValue { $0 = (shared, channels, httpChannels) }
        // A drain request left from an earlier run of this node is done with: it was drained and started again.
        let store = self.store, node = configuration.nodeID
        _ = try? await threadPool.runIfActive { try store.clearDrain(node: node) }
        startRegistry(shared)
    }

    // MARK: Registry and control (`.poplar/nodes/<node>`, `.poplar/control/<node>/`)

    private let registry = NIOLockedValueBox<(task: RepeatedTask?, beat: UInt64, started: Date)>((nil, 0, Date()))
    private let drained = AsyncStream<Void>.makeStream()

    /// Publishes this node every `registryInterval` and acts on what the operator left in its control folder.
    private func startRegistry(_ shared: Shared) {
        let store = self.store, node = configuration.nodeID, logger = self.logger
        let address = (boundAddresses.first ?? boundTLSAddresses.first).map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "none"
        let loop = group.next()
        let interval = configuration.registryInterval
        let task = loop.scheduleRepeatedAsyncTask(initialDelay: .zero, delay: interval) { [weak self] _ in
            guard let self else { return loop.makeSucceededVoidFuture() }
            let (beat, started) = self.registry.withLockedValue { r -> (UInt64, Date) in
                r.beat += 1
                return (r.beat, r.started)
            }
            let record = NodeRecord(node: node, address: address, version: PoplarVersion.string, pid: getpid(), started: started,
                                    updated: Date(), beat: beat, draining: shared.isDraining, sessions: shared.loggedInSessions,
                                    intervalMilliseconds: Int(interval.nanoseconds / 1_000_000),
                                    keyTags: store.keyring.guids.map(\.tag), lockRules: NodeRecord.knownLockRules)
            let penalty = shared.authenticator.penalty
            return self.threadPool.runIfActive(eventLoop: loop) { () -> (drain: Bool, kicks: [String]) in
                try store.publishNode(record)
                // The cluster's KDF rounds (`poplar cluster kdf-rounds`), every 15th record.
                if beat % 15 == 1 { _ = try? store.refreshClusterInfo() }
                if let policies = try? store.domainPolicies() {
                    shared.policySummary.withLockedValue { $0 = DomainPolicySummary(policies.values) }
                }
                // Penalty records past their window, once per window per node (each reader ignores them already).
                if let removed = try? penalty?.sweepIfDue(), removed > 0 {
                    logger.info("auth penalty records past their window removed", metadata: ["count": .stringConvertible(removed)])
                }
                return try store.pendingControl(node: node)
            }.map { control in
                for id in control.kicks {
                    let found = shared.kick(id)
                    logger.notice("kick requested by the operator", metadata: ["pop3.session": .string(id), "found": .stringConvertible(found)])
                    self.threadPool.submit { _ in try? store.clearKick(node: node, session: id) }
                }
                if control.drain && !shared.isDraining { self.beginDrain(shared) }
            }.recover { error in
                logger.warning("node registry not updated: \(error)")
            }
        }
        registry.withLockedValue { $0.task = task }
    }

    // MARK: Liveness (`.poplar/live/<instance>`: the node rule, docs/lock-protocol.md)

    private let beater = NIOLockedValueBox<LivenessBeater?>(nil)

    /// Attaches a new node instance to the store and starts beating its liveness record: from now on every session
    /// of this node is guarded by the instance's window too, and any node takes its locks over once the record
    /// stops changing for a lease. Logins wait for the first confirmed beat.
    private func startLiveness() async {
        let liveness = NodeLiveness(node: configuration.nodeID, lease: store.lease)
        store.attachLiveness(liveness)
        let logger = self.logger
        let beater = LivenessBeater(store: store, liveness: liveness) { event in
            switch event {
            case .unconfirmed(let reason):
                Counter(label: "poplar_liveness_beats_unconfirmed_total").increment()
                logger.warning("liveness beat not confirmed: \(reason)")
            case .lapsed(let count):
                Counter(label: "poplar_liveness_lapses_total").increment()
                logger.error("liveness window ran out: every session that was open is lost (nothing deleted)",
                             metadata: ["liveness.lapses": .stringConvertible(count)])
            case .recovered:
                logger.notice("liveness beat confirmed again")
            }
        }
        self.beater.withLockedValue { $0 = beater }
        _ = try? await threadPool.runIfActive { beater.start() }
        logger.info("liveness record beating", metadata: ["liveness.instance": .string(liveness.instance),
                                                          "liveness.interval-ms": .stringConvertible(beater.intervalNanoseconds / 1_000_000)])
    }

    /// `poplar node drain`: refuse new logins, fail readiness, close connections that have not logged in, and
    /// exit once the last session has ended.
    private func beginDrain(_ shared: Shared) {
        logger.notice("draining on the operator's request: \(shared.loggedInSessions.count) sessions to finish")
        draining.withLockedValue { $0 = true }
        shared.shutdownSessionsNotLoggedIn()
        let continuation = drained.continuation
        Task {
            while !shared.loggedInSessions.isEmpty { try? await Task.sleep(nanoseconds: 100_000_000) }
            continuation.yield()
        }
    }

    private func bind(_ address: SocketAddress, shared: Shared, implicitTLS: ReloadableTLSContext?) async throws -> Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: Int32(clamping: max(configuration.backlog, 128)))
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelOption(.writeBufferWaterMark, value: ConnectionLimits.writeBufferWaterMark)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // The load balancer's connections start with a PROXY header, in front of TLS too.
                    if let remote = channel.remoteAddress, shared.configuration.proxyTrusted.contains(remote) {
                        try channel.pipeline.syncOperations.addHandler(ProxyProtocolHandler())
                    }
                    let tls = implicitTLS?.snapshot
                    let session = POP3Session(shared: shared, isTLS: implicitTLS != nil, tls: tls)
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(session.clientRandomHandler())
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.context))
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        LineConnection(session: session, id: session.sessionID, options: POP3Session.connectionOptions(shared.configuration),
                                       registry: shared.connections))
                }
            }
            .bind(to: address).get()
    }


    private func makeTLSContext() async throws -> ReloadableTLSContext? {
        guard let certPath = configuration.certificatePath, let keyPath = configuration.privateKeyPath else {
            return nil
        }
        // Reading the PEM files and building the context blocks: done on the thread pool.
        let policy = configuration.tlsPolicy
        do {
            return try await threadPool.runIfActive {
                try ReloadableTLSContext(certificatePath: certPath, privateKeyPath: keyPath, policy: policy)
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
        // Cancelled and waited for: a publication still in flight on the thread pool would write the record again
        // after the removal below (a stopped node listed as running; the registry test caught it under load).
        if let task = registry.withLockedValue({ $0.task }) {
            let stopped = group.next().makePromise(of: Void.self)
            task.cancel(promise: stopped)
            try? await stopped.futureResult.get()
        }
        if let beater = beater.withLockedValue({ $0 }) { _ = try? await threadPool.runIfActive { beater.stop() } }
        let store = self.store, node = configuration.nodeID
        _ = try? await threadPool.runIfActive { try store.removeNode(node) }
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
        // Serve until the service group asks us to stop (SIGTERM, SIGINT), the task is cancelled, or a drain
        // requested by the operator has seen the last session end.
        let drained = self.drained.stream
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await gracefulShutdown() }
            group.addTask { for await _ in drained { return } }
            await group.next()
            group.cancelAll()
        }
        await shutdown()
    }

    public var activeSessions: Int { state.withLockedValue { $0.shared?.sessionCount ?? 0 } }
}

public enum PoplarVersion {
    public static let string = "0.5.0"
}

public enum NodeError: Error, CustomStringConvertible {
    case configuration(String)
    public var description: String {
        switch self {
        case .configuration(let text): return text
        }
    }
}
