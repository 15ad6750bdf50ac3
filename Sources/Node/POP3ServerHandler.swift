import Foundation
import Logging
import Metrics
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import POP3Core
import ServerSupport
import SharedStore

/// The SwiftNIO glue around `POP3SessionStateMachine`: frames lines, feeds them to the state machine one at a
/// time, and executes the actions it returns. Store work (login, lock, reading messages, deletions) runs on the
/// thread pool; while it runs, further pipelined lines wait in the framer and no more bytes are read, so a client
/// cannot make the server buffer without bound. The handler owns the mailbox lock of its session and gives it back
/// on QUIT, on disconnect, on autologout and on shutdown.
final class POP3ServerHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Bytes a client may send ahead (pipelining) before the server stops reading from it.
    static let maxPipelinedBytes = 64 * 1024

    private let shared: POP3Server.Shared
    private let isTLS: Bool
    let sessionID: String
    private var logger: Logger

    private var machine: POP3SessionStateMachine!
    private var framer = LineFramer(maxLength: POP3Limits.maxCommandLineLength)
    private var context: ChannelHandlerContext?
    private var admitted = false
    private var queueTicket: UInt64?
    private var busy = false
    private var closing = false
    private var shutdownRequested = false
    private var readPending = false
    private var awaitingHandshake = false
    private var idleTimer: Scheduled<Void>?
    private var mailbox: MailboxSession? {
        didSet { if mailbox !== oldValue { heartbeatTask?.cancel(); heartbeatTask = nil } }
    }
    /// Keeps the mailbox lock's lease alive every L/3 while the session holds it (docs/lock-protocol.md, H1–H3).
    private var heartbeatTask: RepeatedTask?
    private var heartbeatInFlight = false
    private var peerIsLoopback = false
    /// The client's address as ip:port, for the registry.
    private var peerDescription = "unknown"
    /// The client address a trusted load balancer announced; nil on a direct connection.
    private var proxiedPeer: SocketAddress?
    /// The client's first bytes, kept until they tell whether they are a PROXY header (from an untrusted peer).
    private var firstBytes: [UInt8] = []

    init(shared: POP3Server.Shared, isTLS: Bool) {
        self.shared = shared
        self.isTLS = isTLS
        self.sessionID = POP3ServerHandler.makeSessionID()
        var logger = shared.logger
        logger[metadataKey: "pop3.session"] = .string(sessionID)
        self.logger = logger
    }

    // MARK: Channel events

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        // Behind a load balancer the real client came in the PROXY header (ProxyProtocolHandler).
        let remote = proxiedPeer ?? context.channel.remoteAddress
        peerIsLoopback = remote.map(Self.isLoopback) ?? false
        peerDescription = remote.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "unknown"
        logger[metadataKey: "pop3.peer"] = .string(remote?.description ?? "unknown")
        shared.register(self, on: context.eventLoop)
        if !peerIsLoopback, let address = remote?.ipAddress {
            guard shared.limiter.admitAddress(address) else {
                Counter(label: "poplar_pop3_connections_refused_total").increment()
                logger.notice("connection refused: \(shared.limiter.perAddress) connections from this address are open")
                sendAndClose(.err(.sysTemp, "too many connections from your address, try again later"))
                context.fireChannelActive()
                return
            }
            countedAddress = address
        }
        let loop = context.eventLoop
        // The limiter may hand the slot over from another thread: hop back to this channel's loop.
        let handler = NIOLoopBound(self, eventLoop: loop)
        let admission = shared.limiter.admit {
            loop.execute { handler.value.admittedFromQueue() }
        }
        switch admission {
        case .admitted:
            admitted = true
            begin()
        case .queued(let ticket):
            queueTicket = ticket
            logger.debug("connection queued: all session slots in use")
        case .refused:
            Counter(label: "poplar_pop3_connections_refused_total").increment()
            logger.notice("connection refused: session slots and backlog full")
            sendAndClose(.err(.sysTemp, "too many connections, try again later"))
        }
        context.fireChannelActive()
    }

    private func admittedFromQueue() {
        queueTicket = nil
        guard !finished, !closing, let context, context.channel.isActive else {
            // Went away while waiting: the slot it was handed goes straight on.
            shared.limiter.release()
            return
        }
        admitted = true
        begin()
    }

    private func begin() {
        guard let context else { return }
        Counter(label: "poplar_pop3_sessions_total").increment()
        let host = shared.configuration.nodeID
        let nonce = UInt64.random(in: 0...UInt64.max)
        let now = UInt64(Date().timeIntervalSince1970)
        let configuration = POP3SessionConfiguration(
            greeting: shared.configuration.greeting,
            apopTimestamp: "<\(nonce).\(now)@\(host)>",
            cramChallenge: "<\(UInt64.random(in: 0...UInt64.max)).\(now)@\(host)>",
            cramMD5Enabled: shared.configuration.cramMD5,
            tlsAvailable: shared.tlsContext != nil && !isTLS,
            isTLS: isTLS,
            plaintextAllowedWithoutTLS: plaintextAllowed,
            implementation: shared.configuration.implementation,
            maxBadCommands: shared.configuration.maxBadCommands
        )
        machine = POP3SessionStateMachine(configuration: configuration)
        perform(machine.start())
        resetIdleTimer()
        flushAndRead(context)
    }

    private var plaintextAllowed: Bool {
        switch shared.configuration.plaintext {
        case .always: return true
        case .tlsOnly: return false
        case .loopback: return peerIsLoopback
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        readPending = false
        var buffer = unwrapInboundIn(data)
        guard !closing else { return }
        if let bytes = buffer.readBytes(length: buffer.readableBytes) {
            if firstBytes.count < ProxyHeaderDecoder.v2Signature.count, proxiedPeer == nil {
                // Only the configured load balancers may say who the client is: a PROXY header from anyone else is
                // answered and closed. Decided on the first 6 bytes ("PROXY ") or 12 (the v2 signature).
                firstBytes += bytes.prefix(ProxyHeaderDecoder.v2Signature.count - firstBytes.count)
                if !ProxyHeaderDecoder.looksLikeHeader(firstBytes) {
                    firstBytes = ProxyHeaderDecoder.v2Signature  // decided: not a header
                } else if firstBytes.count >= 6 && firstBytes.first == UInt8(ascii: "P") || firstBytes.count >= ProxyHeaderDecoder.v2Signature.count {
                    logger.notice("PROXY header from an untrusted address: closed")
                    sendAndClose(.err(nil, "PROXY header not accepted from this address"))
                    return
                }
            }
            framer.append(bytes)
        }
        guard admitted else {
            // Queued connections are not read from; anything they send waits in the framer, bounded.
            if framer.bufferedByteCount > Self.maxPipelinedBytes { sendAndClose(.err(.sysTemp, "too many connections")) }
            return
        }
        processLines()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // One read() ends with one channelReadComplete, whether or not data reached this handler (a TLS
        // handshake consumes it below us).
        readPending = false
        context.flush()
        if admitted && !closing && (!busy || awaitingHandshake) { requestRead(context) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let proxied = event as? ProxiedPeer {
            proxiedPeer = proxied.address
            return
        }
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent, awaitingHandshake {
            // STLS finished: a fresh AUTHORIZATION over TLS (RFC 2595 §4).
            logger.debug("TLS established after STLS")
            busy = false
            awaitingHandshake = false
            perform(machine.tlsEstablished())
            processLines()
            flushAndRead(context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("connection error: \(error)")
        closing = true
        context.close(promise: nil)
    }

    /// The pipeline is gone: drop the context, which holds this handler (otherwise the two keep each other alive
    /// and every connection leaks both, ~1.7 KB).
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        idleTimer?.cancel()
        idleTimer = nil
        if let ticket = queueTicket {
            shared.limiter.cancel(ticket: ticket)
            queueTicket = nil
        }
        finishConnection()
        context.fireChannelInactive()
    }

    /// The client address this connection is counted under (per-address limit), until it closes.
    private var countedAddress: String?
    /// Releases the lock (without deleting anything) and the session slot. Runs once.
    private var finished = false
    private func finishConnection() {
        guard !finished else { return }
        finished = true
        let loop = context?.eventLoop
        if let session = mailbox {
            mailbox = nil
            shared.releaseInBackground(session, logger: logger)
        }
        if admitted { shared.limiter.release() }
        if let address = countedAddress {
            countedAddress = nil
            shared.limiter.releaseAddress(address)
        }
        shared.sessionEnded(sessionID)
        if let loop { shared.unregister(self, on: loop) }
    }

    // MARK: Lines and actions

    private func processLines() {
        guard let context else { return }
        while admitted, !busy, !closing, machine != nil {
            framer.maxLength = machine.isAwaitingSASLResponse ? POP3Limits.maxSASLResponseLength : POP3Limits.maxCommandLineLength
            guard let event = framer.nextLine() else { break }
            resetIdleTimer()
            switch event {
            case .line(let line):
                if !machine.isAwaitingSASLResponse { Self.countCommand(line) }
                perform(machine.receive(line: line))
            case .tooLong:
                perform(machine.lineTooLong())
            }
        }
        if shutdownRequested && !busy && !closing {
            perform(machine.shuttingDown())
        }
        if !busy && !closing {
            flushAndRead(context)
        } else {
            context.flush()
        }
    }

    private func perform(_ action: POP3Action) {
        switch action {
        case .none:
            break
        case .send(let response):
            write(response)
        case .sendAndClose(let response):
            sendAndClose(response)
        case .authenticate(let credentials):
            authenticate(credentials)
        case .startTLS(let response):
            startTLS(response)
        case .retrieve(_, let message, let topBodyLines):
            retrieve(message, topBodyLines: topBodyLines)
        case .update(let deletions):
            update(deletions)
        }
    }

    private func write(_ response: POP3Response) {
        guard let context else { return }
        let bytes = response.encoded()
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    private func sendAndClose(_ response: POP3Response) {
        guard let context, !closing else { return }
        closing = true
        let bytes = response.encoded()
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        // The reply must reach the client before the close (a write completes before it is sent).
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private func flushAndRead(_ context: ChannelHandlerContext) {
        context.flush()
        requestRead(context)
    }

    private func requestRead(_ context: ChannelHandlerContext) {
        guard !readPending, framer.bufferedByteCount <= Self.maxPipelinedBytes else { return }
        readPending = true
        context.read()
    }

    // MARK: Idle timeout (RFC 1939 §3 autologout; the Internet Exchange FAQ's inactivity logout)

    private func resetIdleTimer() {
        guard let context, machine != nil else { return }
        idleTimer?.cancel()
        let timeout = machine.phase == .transaction ? shared.configuration.idleTimeout : shared.configuration.authorizationIdleTimeout
        idleTimer = context.eventLoop.scheduleTask(in: timeout) { [weak self] in
            guard let self, !self.closing else { return }
            self.logger.info("autologout: idle for \(timeout.nanoseconds / 1_000_000_000) s")
            Counter(label: "poplar_pop3_autologouts_total").increment()
            self.perform(self.machine.timedOut())
        }
    }

    // MARK: Shutdown

    /// Called by the server when it starts to drain: a connection that has not logged in holds nothing worth
    /// waiting for, so it is told and closed at once; sessions in TRANSACTION may finish.
    func shutdownIfNotLoggedIn() {
        guard !closing, machine != nil, !busy, machine.phase == .authorization else { return }
        requestShutdown()
    }

    /// Called by the server at the end of its drain time: ends the session without UPDATE (the lock is released).
    func requestShutdown() {
        guard !closing, machine != nil else {
            if !admitted { context?.close(promise: nil) }
            return
        }
        shutdownRequested = true
        if !busy { processLines() }
    }

    // MARK: Authentication

    private func authenticate(_ credentials: POP3Credentials) {
        guard let context else { return }
        if shared.isDraining {
            // `poplar node drain` or SIGTERM: sessions in flight finish, new ones go to another node.
            loginCompleted(.init(outcome: .temporaryFailure("this node is draining, connect again"), session: nil, label: "draining"))
            return
        }
        busy = true
        context.flush()
        let started = NIODeadline.now()
        let authenticator = shared.authenticator
        let sessionID = self.sessionID
        let delay = shared.configuration.authFailureDelay
        shared.threadPool.runIfActive(eventLoop: context.eventLoop) {
            authenticator.authenticate(credentials, sessionID: sessionID)
        }.flatMap { result -> EventLoopFuture<Authenticator.Result> in
            // Every failed login waits the same time, so a wrong password and an unknown user look alike.
            if case .success = result.outcome { return context.eventLoop.makeSucceededFuture(result) }
            let remaining = delay - (NIODeadline.now() - started)
            guard remaining > .zero else { return context.eventLoop.makeSucceededFuture(result) }
            return context.eventLoop.scheduleTask(in: remaining) { result }.futureResult
        }.whenComplete { [self] result in
            switch result {
            case .success(let result):
                self.loginCompleted(result)
            case .failure(let error):
                self.logger.error("login could not run: \(error)")
                self.loginCompleted(.init(outcome: .temporaryFailure("server busy, try again later"), session: nil, label: "temporary"))
            }
        }
    }

    private func loginCompleted(_ result: Authenticator.Result) {
        Counter(label: "poplar_pop3_logins_total", dimensions: [("result", result.label)]).increment()
        guard !closing, context != nil else {
            // The client left while the login ran: give the lock straight back.
            if let session = result.session { shared.releaseInBackground(session, logger: logger) }
            return
        }
        busy = false
        if let session = result.session {
            mailbox = session
            startHeartbeat(session)
            shared.sessionLoggedIn(sessionID, NodeRecord.Session(mailbox: session.address.description, session: sessionID,
                                                                 peer: peerDescription, since: Date()))
            logger[metadataKey: "pop3.mailbox"] = .string(session.address.description)
            logger.info("login", metadata: ["pop3.messages": .stringConvertible(session.messages.count),
                                            "pop3.lock.takeover": .stringConvertible(session.tookOver),
                                            "pop3.intent.finished": .stringConvertible(session.finishedIntent)])
        } else if let detail = result.detail {
            logger.warning("login failed in the store", metadata: ["pop3.result": .string(result.label), "store.error": .string(detail)])
        } else {
            logger.info("login refused", metadata: ["pop3.result": .string(result.label)])
        }
        perform(machine.authenticationCompleted(result.outcome))
        resetIdleTimer()
        processLines()
    }

    // MARK: STLS (RFC 2595 §4)

    private func startTLS(_ response: POP3Response) {
        guard let context, let tlsContext = shared.tlsContext else {
            write(.err(nil, "TLS not available"))
            return
        }
        write(response)
        context.flush()
        // Anything the client sent after STLS in plaintext must not be read as if it came over TLS (the STLS
        // command injection bug class): such a client is not speaking the protocol, so it is disconnected.
        if framer.bufferedByteCount > 0 {
            logger.notice("plaintext bytes pipelined after STLS: closing the connection")
            closing = true
            context.close(promise: nil)
            return
        }
        busy = true
        awaitingHandshake = true
        do {
            try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tlsContext), position: .first)
        } catch {
            logger.error("could not start TLS: \(error)")
            closing = true
            context.close(promise: nil)
            return
        }
        requestRead(context)
    }

    // MARK: RETR and TOP: streamed in chunks, with back-pressure, dot-stuffed on the fly

    private func retrieve(_ message: POP3Message, topBodyLines: Int?) {
        guard let context, let session = mailbox,
            let info = session.messages.first(where: { $0.uidl == message.uidl })
        else {
            write(.err(.sysTemp, "message unavailable"))
            return
        }
        busy = true
        context.flush()
        let chunkSize = shared.configuration.retrieveChunkSize
        // One hop to the thread pool opens the message and reads its first chunk: a message shorter than a chunk
        // (most are) costs one hop in all.
        shared.threadPool.runIfActive(eventLoop: context.eventLoop) { () throws -> OpenedMessage in
            let handle = try session.openMessage(info)
            do {
                return OpenedMessage(handle: handle, first: try handle.read(at: 0, count: chunkSize))
            } catch {
                handle.close()
                throw error
            }
        }.whenComplete { [self] result in
            switch result {
            case .failure(let error):
                // Nothing sent yet: the client gets a proper error and the session goes on.
                self.logger.warning("cannot open message: \(error)")
                self.busy = false
                let text = (error as? StoreError).map(Authenticator.temporaryText) ?? "message unavailable"
                self.write(.err(.sysTemp, text))
                self.processLines()
            case .success(let opened):
                let header: POP3Response = topBodyLines == nil ? .ok("\(message.size) octets") : .ok("top of message follows")
                self.write(header)
                self.emitChunk(opened.first, handle: opened.handle, offset: 0, streamer: MessageStreamer(topBodyLines: topBodyLines))
            }
        }
    }

    /// An open message and its first chunk, handed from the thread pool to the event loop.
    private struct OpenedMessage: @unchecked Sendable {
        let handle: any VolumeReadHandle
        let first: [UInt8]
    }

    private func streamChunk(handle: any VolumeReadHandle, offset: Int64, streamer: MessageStreamer) {
        guard let context, !closing, context.channel.isActive else {
            handle.close()
            return
        }
        let chunkSize = shared.configuration.retrieveChunkSize
        shared.threadPool.runIfActive(eventLoop: context.eventLoop) {
            try handle.read(at: offset, count: chunkSize)
        }.whenComplete { [self] result in
            switch result {
            case .failure(let error):
                // Half a message is on the wire: the only honest thing left is to close the connection.
                self.logger.error("read failed in the middle of a message: \(error)")
                handle.close()
                self.closing = true
                context.close(promise: nil)
            case .success(let bytes):
                self.emitChunk(bytes, handle: handle, offset: offset, streamer: streamer)
            }
        }
    }

    /// Dot-stuffs one chunk read at `offset` and writes it; reads the next once it is written (back-pressure). A chunk
    /// shorter than asked for is the end of the message (a volume reads the count, or less only at the end).
    private func emitChunk(_ bytes: [UInt8], handle: any VolumeReadHandle, offset: Int64, streamer: MessageStreamer) {
        guard let context, !closing, context.channel.isActive else {
            handle.close()
            return
        }
        var streamer = streamer
        var output = [UInt8]()
        output.reserveCapacity(bytes.count + bytes.count / 32 + 8)
        streamer.process(bytes, into: &output)
        let done = bytes.count < shared.configuration.retrieveChunkSize || streamer.isComplete
        if done {
            handle.close()
            streamer.finish(into: &output)
        }
        Counter(label: "poplar_pop3_retrieved_bytes_total").increment(by: output.count)
        send(output, context: context).whenComplete { result in
            guard case .success = result else {
                if !done { handle.close() }
                return
            }
            self.resetIdleTimer()
            if done {
                self.busy = false
                self.processLines()
            } else {
                self.streamChunk(handle: handle, offset: offset + Int64(bytes.count), streamer: streamer)
            }
        }
    }

    private func send(_ bytes: [UInt8], context: ChannelHandlerContext) -> EventLoopFuture<Void> {
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        return context.writeAndFlush(wrapOutboundOut(buffer))
    }

    // MARK: Lease heartbeat

    private func startHeartbeat(_ session: MailboxSession) {
        guard let context else { return }
        let interval = TimeAmount.nanoseconds(Int64(session.heartbeatInterval))
        heartbeatTask = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [weak self] _ in
            self?.heartbeat(session)
        }
    }

    private func heartbeat(_ session: MailboxSession) {
        guard let context, mailbox === session, !heartbeatInFlight else { return }
        heartbeatInFlight = true
        shared.threadPool.runIfActive(eventLoop: context.eventLoop) { session.heartbeat() }.whenComplete { [self] result in
            self.heartbeatInFlight = false
            guard self.mailbox === session else { return }
            switch result {
            case .success(.confirmed):
                break
            case .success(.unconfirmed(let reason)):
                Counter(label: "poplar_lock_heartbeats_unconfirmed_total").increment()
                self.logger.warning("lock heartbeat not confirmed: \(reason)")
            case .success(.lost(let reason)):
                self.lockLost(reason)
            case .failure(let error):
                self.logger.warning("lock heartbeat could not run: \(error)")
                if let reason = session.lostReason { self.lockLost(reason) }
            }
        }
    }

    /// The session can no longer be sure it holds its mailbox: it ends before its lease can run out elsewhere,
    /// deleting nothing. The release that follows leaves a lock that is not this session's alone.
    private func lockLost(_ reason: String) {
        Counter(label: "poplar_lock_lost_total").increment()
        logger.error("mailbox lock lost, ending the session without deleting: \(reason)")
        closing = true
        context?.close(promise: nil)
    }

    // MARK: UPDATE (RFC 1939 §6)

    private func update(_ deletions: [POP3Message]) {
        guard let context else { return }
        guard let session = mailbox else {
            perform(machine.updateCompleted(.success(0)))
            return
        }
        busy = true
        context.flush()
        mailbox = nil
        // Deletions come from this session's snapshot, in its order: one lookup each (a mailbox can hold many).
        let byUIDL = Dictionary(session.messages.map { ($0.uidl, $0) }, uniquingKeysWith: { first, _ in first })
        let toDelete = deletions.compactMap { byUIDL[$0.uidl] }
        let logger = self.logger
        let shared = self.shared
        shared.threadPool.runIfActive(eventLoop: context.eventLoop) { () -> Result<Int, POP3UpdateFailure> in
            // Released before the reply, so the client can come straight back; retried if the store is away.
            defer {
                do { try session.release() } catch { shared.releaseInBackground(session, logger: logger) }
            }
            do {
                if !toDelete.isEmpty { try session.commit(deleting: toDelete) }
                return .success(toDelete.count)
            } catch {
                logger.error("update failed: \(error)")
                return .failure(POP3UpdateFailure(message: "could not delete the messages, try again"))
            }
        }.whenComplete { [self] result in
            self.busy = false
            switch result {
            case .success(let outcome):
                if case .success(let n) = outcome { self.logger.info("update", metadata: ["pop3.deleted": .stringConvertible(n)]) }
                self.perform(self.machine.updateCompleted(outcome))
            case .failure:
                self.perform(self.machine.updateCompleted(.failure(POP3UpdateFailure(message: "server busy, nothing deleted"))))
            }
        }
    }

    // MARK: Helpers

    static func isLoopback(_ address: SocketAddress) -> Bool {
        switch address {
        case .v4(let a):
            return (UInt32(bigEndian: a.address.sin_addr.s_addr) >> 24) == 127
        case .v6(let a):
            var addr = a.address.sin6_addr
            let bytes = withUnsafeBytes(of: &addr) { Array($0) }
            if bytes == Array(repeating: 0, count: 15) + [1] { return true }
            // IPv4-mapped 127.x.x.x
            return bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff && bytes[12] == 127
        case .unixDomainSocket:
            return true
        }
    }

    /// The verbs counted by name in `poplar_pop3_commands_total` (a bounded label: anything else is "other",
    /// and nothing after the verb, such as a password, is ever looked at).
    static let countedVerbs: Set<String> = ["USER", "PASS", "APOP", "AUTH", "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET",
                                            "QUIT", "TOP", "UIDL", "CAPA", "STLS"]

    static func countCommand(_ line: [UInt8]) {
        let verb = String(decoding: line.prefix(while: { $0 != 0x20 }).prefix(4), as: UTF8.self).uppercased()
        Counter(label: "poplar_pop3_commands_total", dimensions: [("command", countedVerbs.contains(verb) ? verb : "other")]).increment()
    }

    static func makeSessionID() -> String {
        String(UInt64.random(in: 0...UInt64.max), radix: 36)
    }
}
