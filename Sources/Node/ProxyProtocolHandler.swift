import NIOCore
import ServerSupport

/// First in the pipeline of a connection from a trusted network (the load balancer): reads the PROXY v1/v2 header
/// (`ProxyHeaderDecoder`), tells the handlers behind it who the real client is, then steps aside and hands on what
/// followed the header. `channelActive` is held back until then, so the POP3 greeting waits for the header. A
/// missing, invalid or slow header gets an `-ERR` line and the connection is closed.
final class ProxyProtocolHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// How long a trusted peer may take to send its header.
    static let headerTimeout: TimeAmount = .seconds(5)

    private var buffered: [UInt8] = []
    private var timeout: Scheduled<Void>?
    private var done = false

    func channelActive(context: ChannelHandlerContext) {
        let loop = context.eventLoop
        // The timer holds the handler and its context until it fires or is cancelled (header read, channel closed).
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        timeout = loop.scheduleTask(in: Self.headerTimeout) {
            let (handler, context) = bound.value
            handler.refuse(context: context, "no PROXY header in time")
        }
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return context.fireChannelRead(data) }
        var buffer = unwrapInboundIn(data)
        buffered += buffer.readBytes(length: buffer.readableBytes) ?? []
        switch ProxyHeaderDecoder.decode(buffered) {
        case .needMoreBytes:
            context.read()
        case .invalid(let reason):
            refuse(context: context, reason)
        case .local(let consumed):
            proceed(context: context, peer: nil, consumed: consumed)
        case .proxied(let source, _, let consumed):
            guard let address = try? SocketAddress(ipAddress: source.host, port: source.port) else {
                return refuse(context: context, "PROXY source \(source.host) is not usable")
            }
            proceed(context: context, peer: address, consumed: consumed)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timeout?.cancel()
        // Only pass it on if the handlers behind us saw the connection open.
        if done { context.fireChannelInactive() }
    }

    private func proceed(context: ChannelHandlerContext, peer: SocketAddress?, consumed: Int) {
        done = true
        timeout?.cancel()
        if let peer { context.fireUserInboundEventTriggered(ProxiedPeer(address: peer)) }
        context.fireChannelActive()
        let rest = buffered.dropFirst(consumed)
        buffered = []
        if !rest.isEmpty {
            context.fireChannelRead(wrapInboundOut(context.channel.allocator.buffer(bytes: rest)))
            context.fireChannelReadComplete()
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    private func refuse(context: ChannelHandlerContext, _ reason: String) {
        guard !done else { return }
        done = true
        timeout?.cancel()
        let line = context.channel.allocator.buffer(string: "-ERR bad PROXY header: \(reason)\r\n")
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(line)).whenComplete { _ in channel.close(promise: nil) }
    }
}
