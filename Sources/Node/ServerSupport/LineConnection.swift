import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// The one connection skeleton under every line-oriented listener (POP3, SMTP, LMTP, socketmap). It owns what all
/// of them need and none of them should write again:
///
/// - framing, with named bounds: command lines (`LineFramer`) or raw bytes, at most `maxPipelinedInput` not yet
///   worked through;
/// - the read gate: reads are explicit (the channel has autoRead off), requested only while the session is not
///   holding (a store call, a DATA spool write, admission), while the pipelined input is under its bound, and while
///   the peer takes its output;
/// - output back-pressure: while the output the peer has not taken is over `ConnectionLimits.maxUnflushedOutput`
///   (the channel is not writable), no more pipelined commands are worked through and nothing more is read;
///   `channelWritabilityChanged` resumes both;
/// - the clocks, on the channel's event loop (an `EmbeddedEventLoop` is the test clock): an idle time the session
///   sets per state, and an absolute deadline before login that no amount of NOOPs extends;
/// - TLS upgrade (STLS, STARTTLS) with the guard against plaintext pipelined behind the command;
/// - the refusal of a PROXY header from a peer that is not a trusted load balancer;
/// - closing after a final answer, bounded in time even if the peer never reads it;
/// - the server's registry of connections.
///
/// The protocol itself lives in a `LineSession`: its grammar, its state machine and its actions.
public final class LineConnection: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    public struct Options: Sendable {
        public var framing: ConnectionFraming
        /// Idle time until the session sets its own (`idleTimeout`).
        public var idleTimeout: TimeAmount
        /// Absolute time from the connection's start to `loggedIn()`; nil: none (LMTP, socketmap).
        public var loginDeadline: TimeAmount?
        /// Unframed input at which reading stops.
        public var maxPipelinedInput: Int
        /// Sent (then the connection closes) when a peer that is not a trusted load balancer opens with a PROXY
        /// header; nil: not checked.
        public var proxyHeaderRefusal: [UInt8]?
        /// How long a final answer may wait for a peer that does not read it before the connection is closed anyway.
        public var closeGrace: TimeAmount

        public init(framing: ConnectionFraming, idleTimeout: TimeAmount, loginDeadline: TimeAmount? = nil,
                    maxPipelinedInput: Int = ConnectionLimits.maxPipelinedInput, proxyHeaderRefusal: [UInt8]? = nil,
                    closeGrace: TimeAmount = .seconds(5)) {
            self.framing = framing
            self.idleTimeout = idleTimeout
            self.loginDeadline = loginDeadline
            self.maxPipelinedInput = maxPipelinedInput
            self.proxyHeaderRefusal = proxyHeaderRefusal
            self.closeGrace = closeGrace
        }
    }

    public let session: any LineSession
    /// The name the registry knows this connection by (a POP3 session id, say).
    public let id: String
    private var options: Options
    private let registry: ConnectionRegistry?
    private var framer: LineFramer
    private var context: ChannelHandlerContext?
    private var proxyGate: ProxyHeaderGate?

    /// The client: the address a trusted load balancer announced, else the socket's peer.
    public private(set) var peerAddress: SocketAddress?
    /// True when the peer's address came in a PROXY header.
    public private(set) var isProxied = false
    /// Set once the connection is closing: nothing more is written or read.
    public private(set) var isClosing = false
    /// Reasons the session has asked to stop reading (a blocking call under way, admission pending, TLS handshake).
    private var holds = 0
    private var awaitingHandshake = false
    private var readPending = false
    private var started = false
    private var ended = false
    private var unflushed = 0
    private var idleTimer: Scheduled<Void>?
    /// When the peer last made progress, on the event loop's clock.
    private var lastActivity = NIODeadline.uptimeNanoseconds(0)
    private var deadlineTimer: Scheduled<Void>?

    public init(session: any LineSession, id: String, options: Options, registry: ConnectionRegistry? = nil) {
        self.session = session
        self.id = id
        self.options = options
        self.registry = registry
        if case .lines(let max) = options.framing {
            framer = LineFramer(maxLength: max)
        } else {
            framer = LineFramer(maxLength: ConnectionLimits.maxPipelinedInput)
        }
        if options.proxyHeaderRefusal != nil { proxyGate = ProxyHeaderGate() }
    }

    // MARK: What a session may use

    public var eventLoop: EventLoop? { context?.eventLoop }
    public var allocator: ByteBufferAllocator { context?.channel.allocator ?? ByteBufferAllocator() }
    /// Bytes received and not yet framed (the STLS guard, tests).
    public var bufferedInputCount: Int { framer.bufferedByteCount }
    public var isHolding: Bool { holds > 0 }

    /// The idle time from now on (per session state); restarts the idle clock.
    public var idleTimeout: TimeAmount {
        get { options.idleTimeout }
        set {
            options.idleTimeout = newValue
            // A shorter idle time must not wait for a timer armed for the longer one.
            idleTimer?.cancel()
            idleTimer = nil
            touch()
        }
    }

    /// The longest command line accepted from now on (a SASL response may be longer than a command).
    public func setMaxLineLength(_ length: Int) {
        framer.maxLength = length
        if case .lines = options.framing { options.framing = .lines(maxLength: length) }
    }

    /// Switches to raw bytes (SMTP DATA); returns what the peer pipelined after the last line, which the session
    /// must treat as the first raw bytes.
    public func switchToRaw() -> [UInt8] {
        options.framing = .raw
        return framer.takeBuffered()
    }

    /// Back to command lines; `leftover` (bytes after the end of DATA) is framed first.
    public func switchToLines(maxLength: Int, leftover: some Collection<UInt8>) {
        options.framing = .lines(maxLength: maxLength)
        framer.maxLength = maxLength
        framer.append(leftover)
    }

    /// The session has logged in: the pre-login deadline no longer applies.
    public func loggedIn() {
        deadlineTimer?.cancel()
        deadlineTimer = nil
    }

    /// Restarts the idle clock (progress the peer made: a command, or taking a chunk of a long answer). On the hot
    /// path this only records the time: the one idle timer, when it fires, re-arms itself for what is left.
    public func touch() {
        guard let context, !isClosing else { return }
        lastActivity = context.eventLoop.now
        if idleTimer == nil { armIdleTimer(context.eventLoop, at: lastActivity + options.idleTimeout) }
    }

    /// Stops reading and working through pipelined commands until `release()`. Holds nest.
    public func hold() {
        holds += 1
    }

    /// Ends one `hold()`; with none left, pipelined commands are worked through and reading resumes.
    public func release() {
        // A release without a hold is a session's bug; it must not stop the server, so it changes nothing.
        guard holds > 0 else { return }
        holds -= 1
        if holds == 0 { processInput() }
    }

    public func write(_ bytes: [UInt8]) {
        guard let context, !isClosing else { return }
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        unflushed += bytes.count
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    public func flush() {
        guard let context else { return }
        unflushed = 0
        context.flush()
    }

    /// Writes and flushes; the future completes once the bytes are handed to the kernel (a streamed answer waits on it
    /// before reading the next chunk, so a slow reader holds one chunk of the server's memory).
    public func writeAndFlush(_ bytes: [UInt8]) -> EventLoopFuture<Void>? {
        guard let context, !isClosing else { return nil }
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        unflushed = 0
        return context.writeAndFlush(wrapOutboundOut(buffer))
    }

    /// Sends a final answer and closes: after it is written, or after `closeGrace` if the peer does not take it.
    public func writeAndClose(_ bytes: [UInt8]) {
        guard let context, !isClosing else { return }
        isClosing = true
        cancelTimers()
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
        context.eventLoop.scheduleTask(in: options.closeGrace) { channel.close(promise: nil) }
    }

    /// Closes at once (a protocol violation, a lost lock, half an answer on the wire).
    public func close() {
        guard let context else { return }
        isClosing = true
        cancelTimers()
        context.close(promise: nil)
    }

    /// Runs blocking `work` (store, NFS, password hashing) on `pool` while this connection reads nothing more, then
    /// `then` back on the event loop, whether or not the connection is still open (a session may have to give back
    /// what the work took).
    public func offload<T: Sendable>(on pool: NIOThreadPool, _ work: @escaping @Sendable () throws -> T,
                                     then: @escaping (Result<T, Error>) -> Void) {
        guard let context else {
            then(.failure(ChannelError.ioOnClosedChannel))
            return
        }
        hold()
        flush()
        let bound = NIOLoopBound((self, then), eventLoop: context.eventLoop)
        pool.runIfActive(eventLoop: context.eventLoop, work).whenComplete { result in
            let (connection, then) = bound.value
            connection.holds -= 1
            then(result)
            connection.processInput()
        }
    }

    /// Sends `reply` in plaintext, then starts TLS (RFC 2595 §4, RFC 3207 §4). Plaintext the peer pipelined behind
    /// the command must not be read as if it had come over TLS (the STARTTLS command-injection class): such a peer is
    /// not speaking the protocol and is disconnected. Returns false when the connection was closed instead.
    /// `inFront`: a handler to place before the TLS handler (it sees the peer's TLS bytes: `ClientHelloRandomHandler`).
    @discardableResult
    public func startTLS(_ tls: NIOSSLContext, reply: [UInt8], inFront: (any ChannelHandler)? = nil) -> Bool {
        guard let context, !isClosing else { return false }
        write(reply)
        flush()
        guard framer.bufferedByteCount == 0 else {
            close()
            return false
        }
        do {
            try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .first)
            if let inFront { try context.pipeline.syncOperations.addHandler(inFront, position: .first) }
        } catch {
            close()
            return false
        }
        holds += 1
        awaitingHandshake = true
        requestRead()
        return true
    }

    // MARK: Channel events

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// The pipeline is gone: drop the context, which holds this handler (otherwise the two keep each other alive).
    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    public func channelActive(context: ChannelHandlerContext) {
        self.context = context
        started = true
        if peerAddress == nil { peerAddress = context.channel.remoteAddress }
        registry?.add(self, id: id, on: context.eventLoop)
        touch()
        if let deadline = options.loginDeadline {
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            deadlineTimer = context.eventLoop.scheduleTask(in: deadline) { bound.value.fire(.loginDeadline) }
        }
        session.connectionStarted(self)
        flush()
        requestRead()
        context.fireChannelActive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        readPending = false
        var buffer = unwrapInboundIn(data)
        guard !isClosing, let bytes = buffer.readBytes(length: buffer.readableBytes) else { return }
        if var gate = proxyGate {
            let verdict = gate.inspect(bytes)
            proxyGate = verdict == .undecided ? gate : nil
            if verdict == .header, let refusal = options.proxyHeaderRefusal {
                writeAndClose(refusal)
                return
            }
        }
        switch options.framing {
        case .raw:
            touch()
            session.receivedRaw(bytes, on: self)
        case .lines:
            framer.append(bytes)
            processInput()
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        // One read() ends with one channelReadComplete, whether or not data reached this handler (a TLS handshake
        // consumes it below us).
        readPending = false
        flush()
        requestRead()
        context.fireChannelReadComplete()
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { processInput() }
        context.fireChannelWritabilityChanged()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let proxied = event as? ProxiedPeer {
            peerAddress = proxied.address
            isProxied = true
            proxyGate = nil
            return
        }
        if let tls = event as? TLSUserEvent, case .handshakeCompleted = tls, awaitingHandshake {
            awaitingHandshake = false
            holds -= 1
            session.tlsEstablished(on: self)
            processInput()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func errorCaught(context: ChannelHandlerContext, error: Error) {
        close()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        isClosing = true
        cancelTimers()
        registry?.remove(self)
        if !ended {
            ended = true
            session.connectionEnded()
        }
        context.fireChannelInactive()
    }

    // MARK: The read gate

    /// Works through pipelined command lines while the session is not holding and the peer takes its output; then
    /// flushes and asks for more input if the gate is open.
    private func processInput() {
        guard context != nil else { return }
        while !isClosing, holds == 0, case .lines = options.framing, context?.channel.isWritable ?? false {
            guard let event = framer.nextLine() else { break }
            touch()
            session.received(event, on: self)
            if unflushed >= ConnectionLimits.flushEvery { flush() }
        }
        flush()
        requestRead()
    }

    private func requestRead() {
        guard let context, started, !isClosing, !readPending else { return }
        let open = awaitingHandshake
            || (holds == 0 && context.channel.isWritable && framer.bufferedByteCount <= options.maxPipelinedInput)
        guard open else { return }
        readPending = true
        context.read()
    }

    // MARK: Clocks

    private func armIdleTimer(_ loop: EventLoop, at deadline: NIODeadline) {
        let bound = NIOLoopBound(self, eventLoop: loop)
        idleTimer = loop.scheduleTask(deadline: deadline) { bound.value.idleTimerFired() }
    }

    /// The idle time is over only if nothing happened since the timer was armed; else it waits for the rest.
    private func idleTimerFired() {
        idleTimer = nil
        guard let loop = context?.eventLoop, !isClosing else { return }
        let due = lastActivity + options.idleTimeout
        if loop.now < due {
            armIdleTimer(loop, at: due)
        } else {
            fire(.idle)
        }
    }

    private func fire(_ timeout: ConnectionTimeout) {
        guard !isClosing else { return }
        session.timedOut(timeout, on: self)
        if !isClosing { close() }
    }

    private func cancelTimers() {
        idleTimer?.cancel()
        idleTimer = nil
        deadlineTimer?.cancel()
        deadlineTimer = nil
    }
}
