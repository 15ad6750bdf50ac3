import ArgumentParser
import Configuration
import Foundation
import Logging
import Metrics
import NIOCore
import NIOPosix
import Node
import Prometheus
import ServerSupport
import ServiceLifecycle
import SharedStore

/// Options of a POP3 node. Each also has a configuration key (docs/configuration.md) and so an environment
/// variable: key `pop3.idle-timeout` is `POPLAR_POP3_IDLE_TIMEOUT`.
struct NodeOptions: ParsableArguments {
    @OptionGroup var tls: TLSPolicyOptions
    @OptionGroup var auth: AuthOptions
    @OptionGroup var oauth: OAuthOptions
    @Option(help: "POP3 address HOST:PORT, repeatable (config pop3.listen; default 0.0.0.0:110).") var listen: [String] = []
    @Option(name: .customLong("tls-listen"), help: "POP3S (implicit TLS) address HOST:PORT, repeatable (config pop3.tls-listen).") var tlsListen: [String] = []
    @Option(help: "Certificate chain, PEM (config tls.cert).") var cert: String?
    @Option(help: "Private key, PEM (config tls.key).") var key: String?
    @Option(name: .customLong("node-id"), help: "This node's name in locks and replies (config node.id; default: host name).") var nodeID: String?
    @Option(name: .customLong("idle-timeout"), help: "Autologout after login, seconds (config pop3.idle-timeout; default 600, RFC 1939's minimum).") var idleTimeout: Double?
    @Option(name: .customLong("auth-idle-timeout"), help: "Autologout before login, seconds (config pop3.auth-idle-timeout; default 60).") var authIdleTimeout: Double?
    @Option(name: .customLong("login-timeout"), help: "Seconds a connection may take from connecting to a successful login, however busy it keeps itself; 0: no limit (config pop3.login-timeout; default 180).") var loginTimeout: Double?
    @Option(name: .customLong("max-connections"), help: "Sessions served at once (config pop3.max-connections; default 10000).") var maxConnections: Int?
    @Option(name: .customLong("max-connections-per-ip"), help: "Connections one client address may have open at once, the real address behind a PROXY header; loopback is not counted; 0: no limit (config pop3.max-connections-per-ip; default 0).") var maxConnectionsPerIP: Int?
    @Option(help: "Connections held waiting beyond --max-connections (config pop3.backlog; default 256).") var backlog: Int?
    @Option(name: .customLong("max-bad-commands"), help: "Bad commands before disconnect (config pop3.max-bad-commands; default 10).") var maxBadCommands: Int?
    @Option(help: "Plaintext logins without TLS: loopback, always or tls-only (config pop3.plaintext; default loopback).") var plaintext: String?
    @Flag(inversion: .prefixedNo, help: "Offer AUTH SCRAM-SHA-256 and, over TLS, SCRAM-SHA-256-PLUS (password file only; config pop3.scram; default on).") var scram: Bool?
    @Flag(name: .customLong("ntlm"), help: "Offer AUTH NTLM, the seed's SPA: legacy, NTLMv2 only, mailboxes created with --apop only (config pop3.ntlm).") var ntlm = false
    @Flag(name: .customLong("cram-md5"), help: "Offer AUTH CRAM-MD5 (mailboxes created with --apop only; config pop3.cram-md5).") var cramMD5 = false
    @Option(name: .customLong("auth-failure-delay"), help: "Seconds before a failed login is answered (config pop3.auth-failure-delay; default 2).") var authFailureDelay: Double?
    @Option(name: .customLong("auth-penalty-max"), help: "Longest delay of the cluster-wide auth penalty in seconds, 0 turns it off (config pop3.auth-penalty-max; default 15).") var authPenaltyMax: Double?
    @Option(name: .customLong("auth-penalty-exempt"), help: "Client networks the auth penalty does not count, comma-separated CIDR blocks (config pop3.auth-penalty-exempt; default 127.0.0.0/8,::1).") var authPenaltyExempt: String?
    @Option(name: .customLong("drain-time"), help: "Seconds sessions may finish at shutdown (config pop3.drain-time; default 30).") var drainTime: Double?
    @Option(help: "Greeting text (config pop3.greeting).") var greeting: String?
    @Option(help: "CAPA IMPLEMENTATION text; not sent unless set (config pop3.implementation).") var implementation: String?
    @Option(name: .customLong("http-listen"), help: "HTTP health address HOST:PORT for load balancers, repeatable: /health/live, /health/ready (config http.listen; default none).") var httpListen: [String] = []
    @Option(name: .customLong("registry-interval"), help: "Seconds between this node's updates of the node registry, which is also how soon it sees a drain or kick request (config node.registry-interval; default 2).") var registryInterval: Double?
    @Option(name: .customLong("http-allow"), help: "Networks allowed to reach the HTTP health listener, comma-separated CIDR blocks; others are closed unanswered (config http.allow; default 127.0.0.0/8,::1).") var httpAllow: String?
    @Option(name: .customLong("proxy-trusted"), help: "Load balancers' networks, comma-separated CIDR blocks: their connections must start with a PROXY v1/v2 header (config proxy.trusted; default none).") var proxyTrusted: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error (config log.level; default info).") var logLevel: String?
    @Option(name: .customLong("log-format"), help: "text, json (JSON lines with ts, level, msg, node, session, client, mailbox) or journal (systemd's journal: <N> priority prefixes, no timestamp) (config log.format; default text).") var logFormat: String?

    func configuration(_ reader: ConfigReader, defaultListen: String = "0.0.0.0:110") throws -> NodeConfiguration {
        var c = NodeConfiguration()
        let listenSpecs = !listen.isEmpty ? listen : (reader.stringArray(forKey: "pop3.listen") ?? [defaultListen])
        let tlsSpecs = !tlsListen.isEmpty ? tlsListen : (reader.stringArray(forKey: "pop3.tls-listen") ?? [])
        c.listen = try listenSpecs.map(parseAddress)
        c.tlsListen = try tlsSpecs.map(parseAddress)
        c.httpListen = try (!httpListen.isEmpty ? httpListen : (reader.stringArray(forKey: "http.listen") ?? [])).map(parseAddress)
        c.certificatePath = cert ?? reader.string(forKey: "tls.cert")
        c.privateKeyPath = key ?? reader.string(forKey: "tls.key")
        if (c.certificatePath == nil) != (c.privateKeyPath == nil) { throw UserError("--cert and --key go together") }
        c.tlsPolicy = try tls.policy(reader)
        c.auth = try auth.configuration(reader)
        c.auth.oauth = try oauth.settings(reader)
        if let id = nodeID ?? reader.string(forKey: "node.id") {
            do { c.nodeID = try Names.validateNodeID(id) } catch { throw UserError("node id: \(error)") }
        }
        c.idleTimeout = try seconds(idleTimeout ?? reader.double(forKey: "pop3.idle-timeout"), default: c.idleTimeout, name: "idle timeout", max: 24 * 3600)
        c.authorizationIdleTimeout = try seconds(authIdleTimeout ?? reader.double(forKey: "pop3.auth-idle-timeout"), default: c.authorizationIdleTimeout, name: "auth idle timeout", max: 3600)
        if let t = loginTimeout ?? reader.double(forKey: "pop3.login-timeout") {
            c.loginTimeout = t == 0 ? nil : try seconds(t, default: .zero, name: "login timeout", max: 3600)
        }
        c.authFailureDelay = try seconds(authFailureDelay ?? reader.double(forKey: "pop3.auth-failure-delay"), default: c.authFailureDelay, name: "auth failure delay", max: 60, allowZero: true)
        if let max = authPenaltyMax ?? reader.double(forKey: "pop3.auth-penalty-max") {
            guard max.isFinite, (0...600).contains(max) else { throw UserError("auth penalty maximum must be 0 to 600 seconds, not \(max)") }
            c.authPenaltyMaximum = max
        }
        if let text = authPenaltyExempt ?? reader.string(forKey: "pop3.auth-penalty-exempt") {
            do { c.authPenaltyExempt = try TrustedNetworks(parsing: text) } catch { throw UserError("auth penalty exempt networks: \(error)") }
        }
        c.registryInterval = try seconds(registryInterval ?? reader.double(forKey: "node.registry-interval"), default: c.registryInterval, name: "registry interval", max: 60)
        c.drainTime = try seconds(drainTime ?? reader.double(forKey: "pop3.drain-time"), default: c.drainTime, name: "drain time", max: 3600, allowZero: true)
        if let n = maxConnections ?? reader.int(forKey: "pop3.max-connections") {
            guard n >= 1 else { throw UserError("max connections must be at least 1") }
            c.maxConnections = n
        }
        if let n = maxConnectionsPerIP ?? reader.int(forKey: "pop3.max-connections-per-ip") {
            guard (0...1_000_000).contains(n) else { throw UserError("max connections per ip must be 0 (no limit) to 1000000") }
            c.maxConnectionsPerAddress = n
        }
        if let n = backlog ?? reader.int(forKey: "pop3.backlog") {
            guard n >= 0 else { throw UserError("backlog must not be negative") }
            c.backlog = n
        }
        if let n = maxBadCommands ?? reader.int(forKey: "pop3.max-bad-commands") {
            guard n >= 1 else { throw UserError("max bad commands must be at least 1") }
            c.maxBadCommands = n
        }
        if let p = plaintext ?? reader.string(forKey: "pop3.plaintext") {
            guard let policy = PlaintextPolicy(rawValue: p) else { throw UserError("plaintext must be loopback, always or tls-only, not \(p)") }
            c.plaintext = policy
        }
        if let g = greeting ?? reader.string(forKey: "pop3.greeting") {
            guard g.utf8.count <= 200, !g.contains(where: { $0.isNewline }) else { throw UserError("greeting must be one line of at most 200 bytes") }
            c.greeting = g
        }
        c.implementation = implementation ?? reader.string(forKey: "pop3.implementation")
        c.cramMD5 = cramMD5 || reader.bool(forKey: "pop3.cram-md5", default: false)
        c.scram = scram ?? reader.bool(forKey: "pop3.scram", default: true)
        c.ntlm = ntlm || reader.bool(forKey: "pop3.ntlm", default: false)
        c.accessJournal = reader.bool(forKey: "pop3.access-journal", default: true)
        if let text = proxyTrusted ?? reader.string(forKey: "proxy.trusted") {
            do { c.proxyTrusted = try TrustedNetworks(parsing: text) } catch { throw UserError("proxy trusted networks: \(error)") }
        }
        if let text = httpAllow ?? reader.string(forKey: "http.allow") {
            do { c.httpAllowed = try TrustedNetworks(parsing: text) } catch { throw UserError("http allowed networks: \(error)") }
            guard !c.httpAllowed.isEmpty else { throw UserError("http allowed networks: at least one network") }
        }
        return c
    }

    func level(_ reader: ConfigReader) throws -> Logger.Level {
        let text = logLevel ?? reader.string(forKey: "log.level") ?? "info"
        guard let level = Logger.Level(rawValue: text) else { throw UserError("unknown log level \(text)") }
        return level
    }

    private func seconds(_ value: Double?, default def: TimeAmount, name: String, max: Double, allowZero: Bool = false) throws -> TimeAmount {
        guard let value else { return def }
        guard value.isFinite, allowZero ? value >= 0 : value > 0, value <= max else {
            throw UserError("\(name) must be \(allowZero ? "0" : "more than 0") to \(Int(max)) seconds, not \(value)")
        }
        return .nanoseconds(Int64(value * 1_000_000_000))
    }
}

/// "HOST:PORT", "[v6]:PORT" or ":PORT" (all interfaces).
func parseAddress(_ spec: String) throws -> SocketAddress {
    var host: Substring
    var port: Substring
    if spec.hasPrefix("[") {
        guard let close = spec.firstIndex(of: "]"), spec[spec.index(after: close)...].hasPrefix(":") else {
            throw UserError("address \(spec) is not [IPv6]:PORT")
        }
        host = spec[spec.index(after: spec.startIndex)..<close]
        port = spec[spec.index(close, offsetBy: 2)...]
    } else {
        guard let colon = spec.lastIndex(of: ":") else { throw UserError("address \(spec) is not HOST:PORT") }
        host = spec[..<colon]
        port = spec[spec.index(after: colon)...]
    }
    guard let portNumber = Int(port), (0...65535).contains(portNumber) else { throw UserError("address \(spec) has no valid port") }
    if host.isEmpty { host = "0.0.0.0" }
    do {
        return try SocketAddress.makeAddressResolvingHost(String(host), port: portNumber)
    } catch {
        throw UserError("cannot resolve \(host): \(error)")
    }
}

/// The level is the process's (`ProcessLogLevel`), so that SIGHUP can change it.
func bootstrapLogging(level: Logger.Level, format: LogFormat = .text) {
    ProcessLogLevel.current = level
    LoggingSystem.bootstrap { label in
        switch format {
        case .json: return ProcessLevelHandler(JSONLogHandler(logLevel: .trace, label: label))
        case .journal: return ProcessLevelHandler(JournalLogHandler(logLevel: .trace, label: label))
        case .text:
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .trace
            return ProcessLevelHandler(handler)
        }
    }
}

/// `--log-format text|json|journal` (config `log.format`; default text).
func logFormat(_ option: String?, _ reader: ConfigReader) throws -> LogFormat {
    let text = option ?? reader.string(forKey: "log.format") ?? "text"
    guard let format = LogFormat(rawValue: text) else { throw UserError("log format must be text, json or journal, not \(text)") }
    return format
}

struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node", abstract: "Run a POP3 node over the mail root (or `poplar node drain NODE`).", subcommands: [NodeDrainCommand.self])
    @OptionGroup var common: CommonOptions
    @OptionGroup var options: NodeOptions

    func run() async throws {
        let reader = try await common.reader()
        let nodeConfiguration = try await ConfigurationRefused.guarding { try options.configuration(reader) }
        let (store, _) = try await common.openStore()
        let format = try await ConfigurationRefused.guarding { try logFormat(options.logFormat, reader) }
        bootstrapLogging(level: try options.level(reader), format: format)
        let flags = (common: common, options: options)
        try await runNode(store: store, configuration: nodeConfiguration) {
            // SIGHUP: the file and the environment read again; the command line's flags still win.
            let reader = try await flags.common.uncheckedReader()
            return (try flags.options.configuration(reader), try flags.options.level(reader))
        }
    }
}

/// Runs a node until SIGTERM or SIGINT; then it drains and gives every lock back before returning. `reread`: on
/// SIGHUP, the configuration and log level as they are now (nil: only the certificate is read again).
func runNode(store: MailStore, configuration: NodeConfiguration,
             reread: (@Sendable () async throws -> (NodeConfiguration, Logger.Level))? = nil) async throws {
    let metrics = bootstrapMetrics()
    exportFsckLastClean(store)
    StatsPublisher.start(store: store, name: "node-" + configuration.nodeID)
    defer { StatsPublisher.publishFinal(store: store, name: "node-" + configuration.nodeID) }
    var reload: (@Sendable ([any Service], Logger) async -> Void)?
    if let reread {
        reload = { servers, logger in
            await reloadServers(servers, reread, logger) { server, fresh in await (server as? POP3Server)?.reload(fresh) }
        }
    }
    try await runServices(reload: reload) { pool, logger in
        [POP3Server(configuration: configuration, store: store, group: MultiThreadedEventLoopGroup.singleton, threadPool: pool, logger: logger,
                    metrics: metrics)]
    }
}

/// SIGHUP: reads the configuration again and hands it to each server that takes it (`apply`); one log line per
/// server says what changed, what needs a restart and what could not be applied. A configuration with a mistake
/// changes nothing.
func reloadServers<C: Sendable>(_ servers: [any Service], _ reread: @Sendable () async throws -> (C, Logger.Level), _ logger: Logger,
                                apply: (any Service, C) async -> ReloadReport?) async {
    let fresh: C, level: Logger.Level
    do {
        (fresh, level) = try await reread()
    } catch {
        logger.error("SIGHUP: configuration not reloaded, nothing changed: \(error)")
        return
    }
    for server in servers {
        guard var report = await apply(server, fresh) else { continue }
        if level != ProcessLogLevel.current {
            ProcessLogLevel.current = level
            report.applied.append("log.level")
        }
        let line: Logger.Message = "SIGHUP: configuration reloaded (certificate read again): \(report.summary)"
        report.failed.isEmpty ? logger.notice(line) : logger.error(line)
    }
}

/// Prometheus as the swift-metrics backend, once per process, beside the per-minute counts the console charts
/// (`MinuteStatsMetrics`); returns what renders the exposition.
func bootstrapMetrics() -> @Sendable () -> [UInt8] {
    let registry = PrometheusCollectorRegistry()
    MetricsSystem.bootstrap(CachingMetricsFactory(MultiplexMetricsHandler(factories: [PrometheusMetricsFactory(registry: registry), MinuteStatsMetrics()])))
    return { registry.emitToBuffer() }
}

/// `poplar_fsck_last_clean_timestamp_seconds`: `.poplar/fsck-last-clean` (the last clean `poplar fsck` of the whole
/// store), read at start and then once a minute on a thread of its own, so no store call runs on an event loop.
func exportFsckLastClean(_ store: MailStore, every seconds: Double = 60) {
    let gauge = Gauge(label: "poplar_fsck_last_clean_timestamp_seconds")
    Thread.detachNewThread {
        while true {
            if let last = try? store.fsckLastClean() { gauge.record(last.timeIntervalSince1970) }
            Thread.sleep(forTimeInterval: seconds)
        }
    }
}
