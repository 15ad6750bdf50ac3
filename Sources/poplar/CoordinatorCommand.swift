import Admin
import ArgumentParser
import Configuration
import Coordinator
import Foundation
import Logging
import NIOCore
import NIOPosix
import Node
import ServerSupport
import ServiceLifecycle
import UnixSignals
import SharedStore

/// Options of a coordinator; each has a configuration key (docs/configuration.md).
struct CoordinatorOptions: ParsableArguments {
    @OptionGroup var tls: TLSPolicyOptions
    @OptionGroup var auth: AuthOptions
    @Option(help: "LMTP address HOST:PORT, repeatable (config coordinator.lmtp; default 127.0.0.1:24).") var lmtp: [String] = []
    @Option(help: "Inbound SMTP address HOST:PORT, repeatable (config coordinator.smtp).") var smtp: [String] = []
    @Option(help: "Postfix socketmap address HOST:PORT (config coordinator.socketmap).") var socketmap: [String] = []
    @Option(help: "Certificate chain, PEM, for SMTP STARTTLS (config tls.cert).") var cert: String?
    @Option(help: "Private key, PEM (config tls.key).") var key: String?
    @Option(help: "Name in greetings and Received: headers (config coordinator.hostname; default: host name).") var hostname: String?
    @Option(name: .customLong("max-message-size"), help: "Largest message: bytes or a size with a unit (64M, 1.5GiB) (config coordinator.max-message-size; default 64 MiB).") var maxMessageSize: String?
    @Flag(name: .customLong("normalize-bare-line-endings"), help: "Accept a bare LF or CR in DATA, written as CRLF, instead of refusing the message with 550 5.5.2 (config coordinator.normalize-bare-line-endings; default off).") var normalizeBareLineEndings = false
    @Option(name: .customLong("max-recipients"), help: "Recipients per transaction (config coordinator.max-recipients; default 1000).") var maxRecipients: Int?
    @Option(name: .customLong("pickup-interval"), help: "Seconds between pickup-folder scans, 0 = off (config coordinator.pickup-interval; default 1).") var pickupInterval: Double?
    @Option(name: .customLong("spool"), help: "Local directory for messages being received (config coordinator.spool; default the temp dir).") var spool: String?
    @Option(name: .customLong("http-listen"), help: "HTTP health and metrics address HOST:PORT, repeatable: /health/live, /health/ready, /health/active, /metrics (config coordinator.http-listen).") var httpListen: [String] = []
    @Option(name: .customLong("mta-networks"), help: "Networks allowed to reach the LMTP, socketmap and HTTP listeners (the MTA, the operators), comma-separated CIDR blocks; others are closed before the greeting. SMTP is not limited (config coordinator.mta-networks; default 127.0.0.0/8,::1).") var mtaNetworks: String?
    @Option(name: .customLong("coordinator-id"), help: "This coordinator's name in the coordinators' lease: one delivers, the others stand by (config coordinator.id; default: host name).") var coordinatorID: String?
    @Option(name: .customLong("log-level")) var logLevel: String?
    @Option(name: .customLong("log-format"), help: "text, json or journal (config log.format; default text).") var logFormat: String?

    func level(_ reader: ConfigReader) throws -> Logger.Level {
        let text = logLevel ?? reader.string(forKey: "log.level") ?? "info"
        guard let level = Logger.Level(rawValue: text) else { throw UserError("unknown log level \(text)") }
        return level
    }

    func configuration(_ reader: ConfigReader) throws -> CoordinatorConfiguration {
        var c = CoordinatorConfiguration()
        c.lmtpListen = try (!lmtp.isEmpty ? lmtp : reader.stringArray(forKey: "coordinator.lmtp") ?? ["127.0.0.1:24"]).map(parseAddress)
        c.httpListen = try (!httpListen.isEmpty ? httpListen : reader.stringArray(forKey: "coordinator.http-listen") ?? []).map(parseAddress)
        c.smtpListen = try (!smtp.isEmpty ? smtp : reader.stringArray(forKey: "coordinator.smtp") ?? []).map(parseAddress)
        c.socketmapListen = try (!socketmap.isEmpty ? socketmap : reader.stringArray(forKey: "coordinator.socketmap") ?? []).map(parseAddress)
        c.certificatePath = cert ?? reader.string(forKey: "tls.cert")
        c.privateKeyPath = key ?? reader.string(forKey: "tls.key")
        if (c.certificatePath == nil) != (c.privateKeyPath == nil) { throw UserError("--cert and --key go together") }
        c.tlsPolicy = try tls.policy(reader)
        if let text = mtaNetworks ?? reader.string(forKey: "coordinator.mta-networks") {
            do { c.mtaNetworks = try TrustedNetworks(parsing: text) } catch { throw UserError("MTA networks: \(error)") }
            guard !c.mtaNetworks.isEmpty else { throw UserError("MTA networks: at least one network") }
        }
        if let id = coordinatorID ?? reader.string(forKey: "coordinator.id") {
            do { c.coordinatorID = try Names.validateNodeID(id) } catch { throw UserError("coordinator id: \(error)") }
        }
        if let h = hostname ?? reader.string(forKey: "coordinator.hostname") {
            guard !h.isEmpty, h.utf8.count <= 255, h.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" }) else {
                throw UserError("hostname \(h) is not a host name")
            }
            c.hostname = h
        }
        if let n = try ByteSize.option(maxMessageSize, "max message size") ?? reader.size(forKey: "coordinator.max-message-size") {
            guard n >= 1024, n <= Int64(Int32.max) else { throw UserError("max message size must be 1K to 2G, not \(n) bytes") }
            c.maxMessageSize = Int(n)
        }
        c.normalizeBareLineEndings = normalizeBareLineEndings || reader.bool(forKey: "coordinator.normalize-bare-line-endings", default: false)
        if let n = maxRecipients ?? reader.int(forKey: "coordinator.max-recipients") {
            guard n >= 1 else { throw UserError("max recipients must be at least 1") }
            c.maxRecipients = n
        }
        if let s = pickupInterval ?? reader.double(forKey: "coordinator.pickup-interval") {
            guard s >= 0, s <= 3600 else { throw UserError("pickup interval must be 0 to 3600 seconds") }
            c.pickupInterval = .nanoseconds(Int64(s * 1_000_000_000))
        }
        if let dir = spool ?? reader.string(forKey: "coordinator.spool") { c.spoolDirectory = dir }
        return c
    }
}

struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Run the coordinator: inbound delivery over LMTP and SMTP, the pickup folder, Postfix lookups."
    )
    @OptionGroup var common: CommonOptions
    @OptionGroup var options: CoordinatorOptions

    func run() async throws {
        let reader = try await common.reader()
        var configuration = try await ConfigurationRefused.guarding { try options.configuration(reader) }
        let (store, _) = try await common.openStore()
        // The account directory asked about recipients (ldap, pam); the password file's are the store's mailboxes.
        let auth = try options.auth.configuration(reader)
        if case .passwd = auth.method {} else {
            let backend = try AuthBackends.make(auth, store: store, cache: LoginCache(ttl: .seconds(1), capacity: 1))
            configuration.recipientDirectory = DirectoryRecipients(backend: backend)
            configuration.autocreate = auth.autocreate
        }
        let level = try await ConfigurationRefused.guarding { try options.level(reader) }
        let format = try await ConfigurationRefused.guarding { try logFormat(options.logFormat, reader) }
        bootstrapLogging(level: level, format: format)
        defer { store.releaseDeliverySlot() }
        let metrics = bootstrapMetrics()
        StatsPublisher.start(store: store, name: "coordinator-" + configuration.coordinatorID)
        defer { StatsPublisher.publishFinal(store: store, name: "coordinator-" + configuration.coordinatorID) }
        let flags = (common: common, options: options), directory = (configuration.recipientDirectory, configuration.autocreate)
        let reread: @Sendable () async throws -> (CoordinatorConfiguration, Logger.Level) = {
            // SIGHUP: the file and the environment read again; the command line's flags still win.
            let reader = try await flags.common.uncheckedReader()
            var fresh = try flags.options.configuration(reader)
            (fresh.recipientDirectory, fresh.autocreate) = directory
            return (fresh, try flags.options.level(reader))
        }
        try await runServices(reload: { servers, logger in
            await reloadServers(servers, reread, logger) { server, fresh in await (server as? InboundServer)?.reload(fresh) }
        }) { pool, logger in
            [InboundServer(configuration: configuration, store: store, group: MultiThreadedEventLoopGroup.singleton, threadPool: pool, logger: logger,
                           metrics: metrics)]
        }
    }
}

/// Runs services until SIGTERM or SIGINT, with a thread pool for their blocking work. `reload`: what SIGHUP does
/// (default: certificates and keys are read again).
func runServices(reload: (@Sendable ([any Service], Logger) async -> Void)? = nil,
                 _ make: (NIOThreadPool, Logger) -> [any Service]) async throws {
    let logger = Logger(label: "poplar")
    let threadPool = NIOThreadPool(numberOfThreads: max(4, System.coreCount * 2))
    threadPool.start()
    // A service that returns on its own (a node drained by the operator) ends the whole process gracefully.
    let services = make(threadPool, logger).map {
        ServiceGroupConfiguration.ServiceConfiguration(service: $0, successTerminationBehavior: .gracefullyShutdownGroup)
    }
    let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    // SIGHUP: certificates and keys are read again (after a renewal) without dropping a session.
    let servers = services.map(\.service)
    let reloader = Task {
        for await _ in await UnixSignalsSequence(trapping: .sighup) {
            if let reload {
                await reload(servers, logger)
                continue
            }
            for server in servers {
                do {
                    if let node = server as? POP3Server { try await node.reloadTLS() }
                    if let coordinator = server as? InboundServer { try await coordinator.reloadTLS() }
                } catch {
                    logger.error("SIGHUP: the new TLS certificate or key was not loaded, the old ones stay in use: \(error)")
                }
            }
        }
    }
    defer { reloader.cancel() }
    do {
        try await group.run()
    } catch {
        try? await threadPool.shutdownGracefully()
        throw UserError("\(error)")
    }
    try? await threadPool.shutdownGracefully()
}
