import Foundation
import Logging
import Metrics
import NIOCore
import SMTPCore
import ServerSupport
import SharedStore

/// One LMTP or SMTP connection's protocol on the shared connection skeleton (`LineConnection`): the
/// `SMTPSessionStateMachine` and the actions it returns. Recipient checks and delivery run on the thread pool while
/// the connection holds its input; DATA is read raw through a `DataDecoder` into a local spool (`+Data`).
final class InboundSession: LineSession {
    let shared: InboundServer.Shared
    let mode: SMTPMode
    var machine: SMTPSessionStateMachine
    var logger: Logger
    weak var connection: LineConnection?
    private var client = "unknown"
    var shutdownRequested = false

    // DATA (InboundSession+Data)
    var decoder: DataDecoder?
    var decoded: [UInt8] = []
    var spool: Spool?
    var spoolFailed: Error?
    /// The end of DATA was seen (its value: how it ended) and its last bytes are still to be spooled.
    var dataEnd: DataOutcome?
    var flushInFlight = false

    let sessionID = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    /// Transactions delivered on this connection: the n-th is "<sessionID>.<n>" in its replies and Received header.
    var transactions = 0

    init(shared: InboundServer.Shared, mode: SMTPMode) {
        self.shared = shared
        self.mode = mode
        self.machine = SMTPSessionStateMachine(configuration: SMTPSessionConfiguration(
            mode: mode, hostname: shared.configuration.hostname, maxMessageSize: shared.configuration.maxMessageSize,
            maxRecipients: shared.configuration.maxRecipients, tlsAvailable: mode == .smtp && shared.tls != nil,
            normalizeBareLineEndings: shared.configuration.normalizeBareLineEndings))
        var logger = shared.logger
        logger[metadataKey: "smtp.session"] = .string(sessionID)
        logger[metadataKey: "smtp.protocol"] = .string(mode == .lmtp ? "lmtp" : "smtp")
        self.logger = logger
    }

    /// The connection options of an LMTP or SMTP listener.
    static func connectionOptions(_ configuration: CoordinatorConfiguration) -> LineConnection.Options {
        LineConnection.Options(framing: .lines(maxLength: SMTPLimits.maxCommandLineLength), idleTimeout: configuration.idleTimeout)
    }

    var isClosing: Bool { connection?.isClosing ?? true }

    func connectionStarted(_ connection: LineConnection) {
        self.connection = connection
        if let remote = connection.peerAddress {
            client = remote.ipAddress.map { "[\($0)]" } ?? "unknown"
            logger[metadataKey: "smtp.peer"] = .string(remote.description)
        }
        guard shared.isActive else {
            // A standby coordinator (the coordinators' lease is another's): the MTA tries its next destination.
            Counter(label: "poplar_coordinator_standby_refusals_total").increment()
            perform(.sendAndClose(SMTPReply(421, "4.3.0", "\(shared.configuration.hostname) is a standby coordinator, try another")))
            return
        }
        perform(machine.start())
    }

    func received(_ event: LineFramer.Event, on connection: LineConnection) {
        switch event {
        case .line(let line): perform(machine.receive(line: line))
        case .tooLong: perform(machine.lineTooLong())
        }
    }

    func receivedRaw(_ bytes: [UInt8], on connection: LineConnection) {
        consumeData(bytes)
    }

    func tlsEstablished(on connection: LineConnection) {
        perform(machine.tlsEstablished())
    }

    func timedOut(_ timeout: ConnectionTimeout, on connection: LineConnection) {
        perform(machine.timedOut())
    }

    func connectionEnded() {
        spool?.close()
        spool = nil
    }

    /// Server shutdown: 421 now if no transaction is under way, else when it ends; `force` closes regardless.
    func requestShutdown(force: Bool) {
        guard let connection, !connection.isClosing else { return }
        if force {
            connection.close()
            return
        }
        shutdownRequested = true
        shutdownIfIdle()
    }

    /// A shutdown asked for during a transaction is answered once the transaction is over.
    func shutdownIfIdle() {
        guard shutdownRequested, let connection, !connection.isClosing, !connection.isHolding, decoder == nil else { return }
        perform(machine.shuttingDown())
    }

    // MARK: Actions

    func perform(_ action: SMTPAction) {
        switch action {
        case .none:
            break
        case .send(let reply):
            connection?.write(tagged(reply).encoded())
        case .sendAll(let replies):
            connection?.write(replies.flatMap { tagged($0).encoded() })
        case .sendAndClose(let reply):
            connection?.writeAndClose(tagged(reply).encoded())
        case .checkRecipient(let address, let size):
            offload({ [delivery = shared.delivery] in delivery.check(recipient: address, declaredSize: size) }) { session, reply in
                if !reply.isPositive { Counter(label: "poplar_delivery_rcpt_refused_total", dimensions: [("code", "\(reply.code)")]).increment() }
                session.perform(session.machine.recipientChecked(reply))
            }
        case .receiveData(let reply):
            beginData(reply)
        case .deliver(let envelope):
            deliver(envelope)
        case .startTLS(let reply):
            guard let connection, let tls = shared.tls?.current else { return }
            if !connection.startTLS(tls, reply: reply.encoded()) {
                logger.notice("plaintext bytes pipelined after STARTTLS (or TLS could not start): connection closed")
            }
        }
    }

    private func deliver(_ envelope: SMTPEnvelope) {
        guard let spool else {
            perform(machine.deliveryCompleted(Array(repeating: SMTPReply(451, "4.3.0", "spool lost"), count: envelope.recipients.count)))
            return
        }
        self.spool = nil
        guard shared.isActive else {
            // The lease was lost during the transaction: nothing is delivered, the MTA retries (elsewhere).
            spool.close()
            perform(machine.deliveryCompleted(Array(repeating: SMTPReply(451, "4.3.0", "coordinator lost its lease, try again"),
                                                    count: envelope.recipients.count)))
            return
        }
        let atomic = mode == .smtp
        let client = self.client, proto = mode == .lmtp ? "LMTP" : "ESMTP"
        transactions += 1
        let id = "\(sessionID).\(transactions)"
        offload({ [delivery = shared.delivery] () -> [SMTPReply] in
            defer { spool.close() }
            return delivery.deliver(envelope, spool: spool, client: client, via: proto, atomic: atomic, id: id)
        }) { session, replies in
            InboundDelivery.count(replies)
            session.logger.info("delivered", metadata: ["smtp.id": .string(id), "smtp.recipients": .stringConvertible(replies.count),
                                                         "smtp.accepted": .stringConvertible(replies.filter(\.isPositive).count)])
            session.perform(session.machine.deliveryCompleted(replies))
        }
    }

    /// A temporary failure on this side (421, 451) names the session, as every log line of the session does
    /// (`session=`): the MTA logs the reply, and the reply leads to Poplar's log.
    func tagged(_ reply: SMTPReply) -> SMTPReply {
        guard reply.code == 421 || reply.code == 451, var last = reply.lines.last else { return reply }
        last += " (session \(sessionID))"
        var tagged = reply
        tagged.lines[tagged.lines.count - 1] = last
        return tagged
    }

    /// Runs `work` on the thread pool while the connection reads nothing more; `then` runs back on the event loop. A
    /// pool that stopped (shutdown) ends the connection with 421.
    func offload<T: Sendable>(_ work: @escaping @Sendable () -> T, then: @escaping (InboundSession, T) -> Void) {
        guard let connection else { return }
        connection.offload(on: shared.threadPool, work) { [self] result in
            switch result {
            case .success(let value): then(self, value)
            case .failure: perform(.sendAndClose(SMTPReply(421, "4.3.0", "shutting down")))
            }
            shutdownIfIdle()
        }
    }
}
