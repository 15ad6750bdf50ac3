import Foundation
import Logging
import Metrics
import NIOCore
import POP3Core
import ServerSupport
import SharedStore

/// One POP3 connection's protocol on the shared connection skeleton (`LineConnection`, which frames, gates reads,
/// holds output back-pressure, keeps the clocks and upgrades to TLS): admission, the state machine, and the actions it
/// returns. Store work (login, lock, messages, deletions) runs on the thread pool while the connection holds its
/// input. The session owns the mailbox lock and gives it back on QUIT, on disconnect, on autologout and on shutdown.
///
/// Its concerns, one file each: admission and the machine (here), login and the lock's heartbeat (`+Login`),
/// RETR/TOP streaming (`+Retrieve`), UPDATE (`+Update`).
final class POP3Session: LineSession {
    let shared: POP3Server.Shared
    let isTLS: Bool
    let sessionID: String
    var logger: Logger

    /// The state machine, from admission on (a queued connection has none yet).
    var machine: POP3SessionStateMachine!
    weak var connection: LineConnection?
    private var admitted = false
    private var queueTicket: UInt64?
    /// The client address this connection is counted under (per-address limit), until it closes.
    private var countedAddress: String?
    /// Set once the connection has ended and everything was given back.
    private(set) var finished = false
    var shutdownRequested = false
    /// For the mailbox's access journal: how the client logged in, what it took, and how the session ended.
    var journal = SessionJournal()
    var mailbox: MailboxSession? {
        didSet { if mailbox !== oldValue { heartbeatTask?.cancel(); heartbeatTask = nil } }
    }
    /// Keeps the mailbox lock's lease alive every L/3 while the session holds it (docs/lock-protocol.md, H1–H3).
    var heartbeatTask: RepeatedTask?
    var heartbeatInFlight = false
    private var peerIsLoopback = false
    /// The client's address as ip:port, for the registry.
    var peerDescription = "unknown"
    /// The SASL channel bindings of this connection's TLS (implicit, or the one STLS is starting).
    var channelBindings: [SCRAMChannelBindingType: [UInt8]]
    /// The ClientHello random of this connection's TLS handshake, which names its exporter secret.
    var clientRandom: [UInt8]?
    /// TLS is up (implicit, or STLS finished), so the exporter secret can be looked up.
    var tlsUp: Bool
    private var exporterLookedUp = false

    init(shared: POP3Server.Shared, isTLS: Bool, tls: ReloadableTLSContext.Snapshot? = nil,
         sessionID: String = POP3Session.makeSessionID()) {
        self.shared = shared
        self.isTLS = isTLS
        self.channelBindings = Self.channelBindings(tls)
        self.tlsUp = isTLS
        self.sessionID = sessionID
        var logger = shared.logger
        logger[metadataKey: "pop3.session"] = .string(sessionID)
        self.logger = logger
    }

    /// The connection options of a POP3 listener.
    static func connectionOptions(_ configuration: NodeConfiguration) -> LineConnection.Options {
        LineConnection.Options(framing: .lines(maxLength: POP3Limits.maxCommandLineLength),
                               idleTimeout: configuration.authorizationIdleTimeout,
                               loginDeadline: configuration.loginTimeout,
                               proxyHeaderRefusal: POP3Response.err(nil, "PROXY header not accepted from this address").encoded())
    }

    var isClosing: Bool { connection?.isClosing ?? true }

    // MARK: Admission

    func connectionStarted(_ connection: LineConnection) {
        self.connection = connection
        // Behind a load balancer the real client came in the PROXY header.
        let remote = connection.peerAddress
        peerIsLoopback = remote.map(TrustedNetworks.loopback.contains) ?? false
        peerDescription = remote.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "unknown"
        logger[metadataKey: "pop3.peer"] = .string(remote?.description ?? "unknown")
        if !peerIsLoopback, let address = remote?.ipAddress {
            guard shared.limiter.admitAddress(address) else {
                Counter(label: "poplar_pop3_connections_refused_total").increment()
                logger.notice("connection refused: \(shared.limiter.perAddress) connections from this address are open")
                connection.writeAndClose(tagged(.err(.sysTemp, "too many connections from your address, try again later")).encoded())
                return
            }
            countedAddress = address
        }
        guard let loop = connection.eventLoop else { return }
        // The limiter may hand the slot over from another thread: hop back to this connection's loop.
        let bound = NIOLoopBound(self, eventLoop: loop)
        let admission = shared.limiter.admit {
            loop.execute { bound.value.admittedFromQueue() }
        }
        switch admission {
        case .admitted:
            admitted = true
            begin()
        case .queued(let ticket):
            // Queued connections are not read from (the skeleton holds): what they send waits in the kernel.
            queueTicket = ticket
            connection.hold()
            logger.debug("connection queued: all session slots in use")
        case .refused:
            Counter(label: "poplar_pop3_connections_refused_total").increment()
            logger.notice("connection refused: session slots and backlog full")
            connection.writeAndClose(tagged(.err(.sysTemp, "too many connections, try again later")).encoded())
        }
    }

    private func admittedFromQueue() {
        queueTicket = nil
        guard !finished, let connection, !connection.isClosing else {
            // Went away while waiting: the slot it was handed goes straight on.
            shared.limiter.release()
            return
        }
        admitted = true
        begin()
        connection.release()
    }

    private func begin() {
        Counter(label: "poplar_pop3_sessions_total").increment()
        let host = shared.configuration.nodeID
        // Every challenge of the session from one system call: APOP 8, CRAM-MD5 8, SCRAM 18, NTLM 8 bytes.
        let random = RandomBytes.make(42)
        let now = UInt64(Date().timeIntervalSince1970)
        var configuration = POP3SessionConfiguration(
            greeting: shared.configuration.greeting,
            apopTimestamp: "<\(RandomBytes.uint64(random, at: 0)).\(now)@\(host)>",
            cramChallenge: "<\(RandomBytes.uint64(random, at: 8)).\(now)@\(host)>",
            cramMD5Enabled: shared.configuration.cramMD5 && shared.authenticator.backend.supportsSharedSecrets,
            scramEnabled: shared.configuration.scram && shared.authenticator.backend.supportsSCRAM,
            scramNonce: SASLCodec.encode(Array(random[16..<34])),
            channelBindings: isTLS ? channelBindings : [:],
            oauthEnabled: shared.authenticator.bearer != nil,
            ntlmEnabled: shared.configuration.ntlm && shared.authenticator.backend.supportsSharedSecrets,
            ntlmChallenge: Array(random[34..<42]),
            tlsAvailable: shared.tls != nil && !isTLS,
            isTLS: isTLS,
            plaintextAllowedWithoutTLS: plaintextAllowed,
            implementation: shared.configuration.implementation,
            maxBadCommands: shared.configuration.maxBadCommands
        )
        let policies = shared.policySummary.withLockedValue { $0 }
        configuration.loginDelayCapability = policies.loginDelay
        configuration.expireCapability = policies.expire
        machine = POP3SessionStateMachine(configuration: configuration)
        perform(machine.start())
        connection?.flush()
    }

    private var plaintextAllowed: Bool {
        switch shared.configuration.plaintext {
        case .always: return true
        case .tlsOnly: return false
        case .loopback: return peerIsLoopback
        }
    }

    // MARK: Input and clocks

    func received(_ event: LineFramer.Event, on connection: LineConnection) {
        guard machine != nil else { return }
        switch event {
        case .line(let line):
            // A line over TLS: the handshake is done and the key log has named its exporter secret.
            if tlsUp && !exporterLookedUp { addExporterBinding() }
            if !machine.isAwaitingSASLResponse { Self.countCommand(line) }
            perform(machine.receive(line: line))
        case .tooLong:
            perform(machine.lineTooLong())
        }
    }

    func tlsEstablished(on connection: LineConnection) {
        // STLS finished: a fresh AUTHORIZATION over TLS (RFC 2595 §4).
        logger.debug("TLS established after STLS")
        tlsUp = true
        perform(machine.tlsEstablished(channelBindings: channelBindings))
    }

    /// RFC 1939 §3 autologout (the Internet Exchange FAQ's inactivity logout), and the absolute time allowed to log in.
    func timedOut(_ timeout: ConnectionTimeout, on connection: LineConnection) {
        guard machine != nil else {
            connection.close()
            return
        }
        switch timeout {
        case .idle:
            journal.ended = "autologout"
            logger.info("autologout: idle for \(connection.idleTimeout.nanoseconds / 1_000_000_000) s")
            Counter(label: "poplar_pop3_autologouts_total").increment()
        case .loginDeadline:
            logger.info("no login within \((shared.configuration.loginTimeout?.nanoseconds ?? 0) / 1_000_000_000) s: closed")
            Counter(label: "poplar_pop3_login_deadline_total").increment()
        }
        perform(machine.timedOut())
    }

    func connectionEnded() {
        if let ticket = queueTicket {
            shared.limiter.cancel(ticket: ticket)
            queueTicket = nil
        }
        finishConnection()
    }

    /// This session's line for the mailbox's access journal, nil when the node keeps none (`pop3.access-journal`).
    func journalRecord(_ session: MailboxSession) -> AccessRecord? {
        let configuration = shared.configuration
        guard configuration.accessJournal else { return nil }
        return journal.record(session, node: configuration.nodeID, sessionID: sessionID, client: peerDescription)
    }

    /// Releases the lock (without deleting anything) and the session slot. Runs once.
    private func finishConnection() {
        guard !finished else { return }
        finished = true
        if let session = mailbox {
            mailbox = nil
            shared.releaseInBackground(session, logger: logger, journal: journalRecord(session))
        }
        if admitted { shared.limiter.release() }
        if let address = countedAddress {
            countedAddress = nil
            shared.limiter.releaseAddress(address)
        }
        shared.sessionEnded(sessionID)
    }

    // MARK: Actions

    func perform(_ action: POP3Action) {
        switch action {
        case .none:
            break
        case .send(let response):
            connection?.write(tagged(response).encoded())
        case .sendAndClose(let response):
            connection?.writeAndClose(tagged(response).encoded())
        case .authenticate(let credentials):
            authenticate(credentials)
        case .lookupSCRAM(let user):
            lookupSCRAM(user)
        case .startTLS(let response):
            startTLS(response)
        case .retrieve(_, let message, let topBodyLines):
            retrieve(message, topBodyLines: topBodyLines)
        case .update(let deletions):
            update(deletions)
        }
        // A SASL response, or an AUTH line carrying one, may be longer than a command line (RFC 5034 §4).
        if let machine {
            connection?.setMaxLineLength(machine.maxLineLength)
        }
    }

    /// STLS (RFC 2595 §4): the skeleton refuses plaintext pipelined behind the command.
    private func startTLS(_ response: POP3Response) {
        guard let connection, let tls = shared.tls?.snapshot else {
            connection?.write(POP3Response.err(nil, "TLS not available").encoded())
            return
        }
        channelBindings = Self.channelBindings(tls)
        if !connection.startTLS(tls.context, reply: response.encoded(), inFront: clientRandomHandler()) {
            logger.notice("plaintext bytes pipelined after STLS (or TLS could not start): connection closed")
        }
    }

    /// The end of a piece of held work: a shutdown asked for meanwhile is answered now, then input resumes.
    func workFinished() {
        if shutdownRequested, machine != nil, !isClosing { perform(machine.shuttingDown()) }
        connection?.release()
    }

    // MARK: Shutdown

    /// Called by the server when it starts to drain: a connection that has not logged in holds nothing worth
    /// waiting for, so it is told and closed at once; sessions in TRANSACTION may finish.
    func shutdownIfNotLoggedIn() {
        guard !isClosing, machine != nil, !(connection?.isHolding ?? true), machine.phase == .authorization else { return }
        requestShutdown()
    }

    /// Called by the server at the end of its drain time, or for a kick: ends the session without UPDATE (the lock is
    /// released).
    func requestShutdown(reason: String = "shutdown") {
        guard !isClosing, machine != nil else {
            if !admitted { connection?.close() }
            return
        }
        journal.ended = reason
        shutdownRequested = true
        if !(connection?.isHolding ?? true) { perform(machine.shuttingDown()) }
    }

    // MARK: Helpers

    /// The verbs counted by name in `poplar_pop3_commands_total` (a bounded label: anything else is "other",
    /// and nothing after the verb, such as a password, is ever looked at).
    static let countedVerbs: Set<String> = ["USER", "PASS", "APOP", "AUTH", "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET",
                                            "QUIT", "TOP", "UIDL", "CAPA", "STLS"]

    static func countCommand(_ line: [UInt8]) {
        let verb = String(decoding: line.prefix(while: { $0 != 0x20 }).prefix(4), as: UTF8.self).uppercased()
        Counter(label: "poplar_pop3_commands_total", dimensions: [("command", countedVerbs.contains(verb) ? verb : "other")]).increment()
    }

    /// The bindings SCRAM-SHA-256-PLUS can use on a TLS channel with this certificate: tls-server-end-point.
    /// tls-exporter comes once the handshake is done (`addExporterBinding`).
    static func channelBindings(_ tls: ReloadableTLSContext.Snapshot?) -> [SCRAMChannelBindingType: [UInt8]] {
        guard let endPoint = tls?.serverEndPoint else { return [:] }
        return [.tlsServerEndPoint: endPoint]
    }

    /// Reads the ClientHello random from in front of the TLS handler (on this connection's event loop).
    func clientRandomHandler() -> ClientHelloRandomHandler {
        ClientHelloRandomHandler { [weak self] random in self?.clientRandom = random }
    }

    /// tls-exporter (RFC 9266), TLS 1.3 only: the exporter secret the key log recorded for this handshake. Once.
    private func addExporterBinding() {
        exporterLookedUp = true
        guard let random = clientRandom, let secret = shared.tls?.exporterSecrets.take(clientRandom: random),
            let binding = TLS13Exporter.channelBinding(exporterSecret: secret)
        else { return }
        channelBindings[.tlsExporter] = binding
        machine.addChannelBinding(.tlsExporter, binding)
    }

    /// A failure on the server's side (`[SYS/TEMP]`) names the session, as every log line of the session does
    /// (`session=`), so that what a user reports leads to the log: "-ERR [SYS/TEMP] … (session 3k9x…)".
    func tagged(_ response: POP3Response) -> POP3Response {
        guard case .err(.sysTemp, let text) = response else { return response }
        return .err(.sysTemp, "\(text) (session \(sessionID))")
    }

    static func makeSessionID() -> String {
        String(UInt64.random(in: 0...UInt64.max), radix: 36)
    }
}
