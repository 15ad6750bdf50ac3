import Foundation
import Logging
import Metrics
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import ServerSupport
import SMTPCore
import SharedStore

/// The SwiftNIO glue around `SMTPSessionStateMachine` for LMTP and SMTP: frames command lines, reads DATA through
/// a `DataDecoder` into a local spool (written on the thread pool, no reading while a write is pending), then
/// delivers one copy per recipient on the thread pool and sends the replies. Reads are explicit (autoRead off).
final class InboundHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Decoded DATA is written to the spool in pieces of this size.
    static let spoolFlushSize = 256 * 1024

    private let shared: InboundServer.Shared
    private let mode: SMTPMode
    private var machine: SMTPSessionStateMachine
    private var framer = LineFramer(maxLength: SMTPLimits.maxCommandLineLength)
    private var context: ChannelHandlerContext?
    private var logger: Logger
    private var busy = false
    private var closing = false
    private var readPending = false
    private var awaitingHandshake = false
    private var idleTimer: Scheduled<Void>?
    private var client = "unknown"

    // DATA
    private var decoder: DataDecoder?
    private var decoded: [UInt8] = []
    private var spool: Spool?
    private var spoolFailed: Error?

    init(shared: InboundServer.Shared, mode: SMTPMode) {
        self.shared = shared
        self.mode = mode
        self.machine = SMTPSessionStateMachine(configuration: SMTPSessionConfiguration(
            mode: mode, hostname: shared.configuration.hostname, maxMessageSize: shared.configuration.maxMessageSize,
            maxRecipients: shared.configuration.maxRecipients, tlsAvailable: mode == .smtp && shared.tlsContext != nil))
        var logger = shared.logger
        logger[metadataKey: "smtp.session"] = .string(String(UInt64.random(in: 0...UInt64.max), radix: 36))
        logger[metadataKey: "smtp.protocol"] = .string(mode == .lmtp ? "lmtp" : "smtp")
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        shared.register(self, on: context.eventLoop)
        if let remote = context.channel.remoteAddress {
            client = remote.ipAddress.map { "[\($0)]" } ?? "unknown"
            logger[metadataKey: "smtp.peer"] = .string(remote.description)
        }
        guard shared.isActive else {
            // A standby coordinator (the coordinators' lease is another's): the MTA tries its next destination.
            Counter(label: "poplar_coordinator_standby_refusals_total").increment()
            perform(.sendAndClose(SMTPReply(421, "4.3.0", "\(shared.configuration.hostname) is a standby coordinator, try another")))
            context.fireChannelActive()
            return
        }
        perform(machine.start())
        resetIdleTimer()
        context.flush()
        requestRead(context)
        context.fireChannelActive()
    }

    /// The pipeline is gone: drop the context, which holds this handler (otherwise the two keep each other alive
    /// and every connection leaks both, ~1.7 KB).
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        shared.unregister(self)
        closing = true
        idleTimer?.cancel()
        spool?.close()
        spool = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        guard !closing, let bytes = buffer.readBytes(length: buffer.readableBytes) else { return }
        resetIdleTimer()
        if decoder != nil {
            consumeData(bytes)
        } else {
            framer.append(bytes)
            processLines()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        readPending = false
        context.flush()
        if !closing && (!busy || awaitingHandshake) { requestRead(context) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? TLSUserEvent, case .handshakeCompleted = e, awaitingHandshake {
            awaitingHandshake = false
            busy = false
            perform(machine.tlsEstablished())
            processLines()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("connection error: \(error)")
        closing = true
        context.close(promise: nil)
    }

    private var shutdownRequested = false

    /// Server shutdown: 421 now if no transaction is under way, else when it ends; `force` closes regardless.
    func requestShutdown(force: Bool) {
        guard let context, !closing else { return }
        if force {
            closing = true
            context.close(promise: nil)
            return
        }
        shutdownRequested = true
        if !busy && decoder == nil { perform(machine.shuttingDown()) }
    }

    private func requestRead(_ context: ChannelHandlerContext) {
        guard !readPending, !closing else { return }
        readPending = true
        context.read()
    }

    private func resetIdleTimer() {
        guard let context else { return }
        idleTimer?.cancel()
        idleTimer = context.eventLoop.scheduleTask(in: shared.configuration.idleTimeout) { [weak self] in
            guard let self, !self.closing else { return }
            self.perform(self.machine.timedOut())
        }
    }

    // MARK: Commands

    private func processLines() {
        guard let context else { return }
        if shutdownRequested && !busy && decoder == nil && !closing {
            perform(machine.shuttingDown())
            return
        }
        while !busy, !closing, decoder == nil, let event = framer.nextLine() {
            switch event {
            case .line(let line): perform(machine.receive(line: line))
            case .tooLong: perform(machine.lineTooLong())
            }
        }
        context.flush()
        if !busy && !closing { requestRead(context) }
    }

    private func perform(_ action: SMTPAction) {
        switch action {
        case .none:
            break
        case .send(let reply):
            write(reply.encoded())
        case .sendAll(let replies):
            write(replies.flatMap { $0.encoded() })
        case .sendAndClose(let reply):
            guard let context, !closing else { return }
            closing = true
            var buffer = context.channel.allocator.buffer(capacity: 64)
            buffer.writeBytes(reply.encoded())
            context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in context.close(promise: nil) }
        case .checkRecipient(let address, let size):
            runBlocking({ [delivery = shared.delivery] in delivery.check(recipient: address, declaredSize: size) }) { handler, reply in
                if !reply.isPositive { Counter(label: "poplar_delivery_rcpt_refused_total", dimensions: [("code", "\(reply.code)")]).increment() }
                handler.perform(handler.machine.recipientChecked(reply))
            }
        case .receiveData(let reply):
            write(reply.encoded())
            beginData()
        case .deliver(let envelope):
            guard let spool else {
                perform(machine.deliveryCompleted(Array(repeating: SMTPReply(451, "4.3.0", "spool lost"), count: envelope.recipients.count)))
                return
            }
            self.spool = nil
            guard shared.isActive else {
                // The lease was lost during the transaction: nothing is delivered, the MTA retries (elsewhere).
                spool.close()
                perform(machine.deliveryCompleted(Array(repeating: SMTPReply(451, "4.3.0", "coordinator lost its lease, try again"), count: envelope.recipients.count)))
                return
            }
            let atomic = mode == .smtp
            let client = self.client, proto = mode == .lmtp ? "LMTP" : "ESMTP"
            runBlocking({ [delivery = shared.delivery] () -> [SMTPReply] in
                defer { spool.close() }
                return delivery.deliver(envelope, spool: spool, client: client, via: proto, atomic: atomic)
            }) { handler, replies in
                for reply in replies {
                    Counter(label: "poplar_deliveries_total", dimensions: [("result", reply.isPositive ? "delivered" : "\(reply.code)")]).increment()
                }
                handler.logger.info("delivered", metadata: ["smtp.recipients": .stringConvertible(replies.count),
                                                             "smtp.accepted": .stringConvertible(replies.filter(\.isPositive).count)])
                handler.perform(handler.machine.deliveryCompleted(replies))
            }
        case .startTLS(let reply):
            guard let context, let tls = shared.tlsContext else { return }
            write(reply.encoded())
            context.flush()
            if framer.bufferedByteCount > 0 {
                // Plaintext pipelined after STARTTLS (the command injection bug class): not obeyed.
                closing = true
                context.close(promise: nil)
                return
            }
            busy = true
            awaitingHandshake = true
            do {
                try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .first)
            } catch {
                closing = true
                context.close(promise: nil)
            }
        }
    }

    private func write(_ bytes: [UInt8]) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    /// Runs `work` on the thread pool while no further command is read; `then` runs back on the event loop.
    private func runBlocking<T: Sendable>(_ work: @escaping @Sendable () -> T, then: @escaping (InboundHandler, T) -> Void) {
        guard let context else { return }
        busy = true
        context.flush()
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        shared.threadPool.runIfActive(eventLoop: context.eventLoop, work).whenComplete { result in
            let handler = bound.value
            handler.busy = false
            switch result {
            case .success(let value): then(handler, value)
            case .failure: handler.perform(.sendAndClose(SMTPReply(421, "4.3.0", "shutting down")))
            }
            handler.processLines()
        }
    }

    // MARK: DATA

    private func beginData() {
        decoder = machine.makeDataDecoder()
        decoded = []
        spoolFailed = nil
        do {
            spool = try Spool(directory: shared.configuration.spoolDirectory)
        } catch {
            spoolFailed = error
        }
        let pending = framer.takeBuffered()
        context?.flush()
        if !pending.isEmpty { consumeData(pending) }
    }

    private func consumeData(_ bytes: [UInt8]) {
        guard var decoder else { return }
        var out: [UInt8] = []
        let used = decoder.decode(bytes, into: &out)
        decoded += out
        if decoder.finished {
            self.decoder = nil
            dataEnd = decoder.outcome ?? .complete
            framer.append(bytes[used...])
        } else {
            self.decoder = decoder
        }
        flushSpoolIfDue()
    }

    /// The end of DATA was seen (its value: how DATA ended) and its last bytes are still to be spooled.
    private var dataEnd: DataOutcome?
    private var flushInFlight = false

    /// Writes what was decoded to the spool on the thread pool, one write at a time; reading waits meanwhile
    /// (back-pressure). After the last write, the transaction goes on.
    private func flushSpoolIfDue() {
        guard let context, !flushInFlight else { return }
        let final = dataEnd != nil
        guard final || decoded.count >= Self.spoolFlushSize else { return }
        let outcome = dataEnd ?? .complete
        let tooLarge = outcome != .complete  // refused (size, bare line end): the spool is dropped
        let chunk = decoded
        decoded = []
        let spool = self.spool
        let failedBefore = spoolFailed
        flushInFlight = true
        busy = true
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        shared.threadPool.runIfActive(eventLoop: context.eventLoop) { () -> String? in
            if let failedBefore { return "\(failedBefore)" }
            guard !chunk.isEmpty, let spool, spool.size + Int64(chunk.count) <= Int64.max else { return nil }
            do { try spool.append(chunk) } catch { return "\(error)" }
            return nil
        }.whenComplete { result in
            let handler = bound.value
            handler.flushInFlight = false
            handler.busy = false
            var failure: String?
            switch result {
            case .success(let f): failure = f
            case .failure(let e): failure = "\(e)"
            }
            if let failure, handler.spoolFailed == nil { handler.spoolFailed = SpoolError(failure) }
            guard final else {
                handler.flushSpoolIfDue()
                if !handler.flushInFlight, let context = handler.context {
                    context.flush()
                    handler.requestRead(context)
                }
                return
            }
            handler.dataEnd = nil
            if let failure = handler.spoolFailed, !tooLarge {
                handler.logger.error("DATA could not be spooled: \(failure)")
                handler.spool?.close()
                handler.spool = nil
                handler.perform(handler.machine.dataFailed(SMTPReply(451, "4.3.0", "local error in processing, try again later")))
            } else {
                if tooLarge {
                    handler.spool?.close()
                    handler.spool = nil
                }
                handler.perform(handler.machine.dataReceived(outcome))
            }
            handler.processLines()
        }
    }
}
