import NIOCore
import NIOHTTP1
import NIOPosix

/// The HTTP endpoint of a node or coordinator for load balancers and monitoring (`--http-listen`):
/// - `GET /health/live`: 200 while the process serves;
/// - `GET /health/ready`: 200 when it should be sent work (a node: not draining and the store answers), else 503
///   with the reason; load balancers check this, so checks never open a POP3 or LMTP session;
/// - `GET /health/active`: for a coordinator, 200 while it holds the coordinators' lease, else 503;
/// - `GET /metrics`: the Prometheus exposition, when the executable bootstrapped a backend.
public final class HealthHandler: ChannelInboundHandler {
    public typealias InboundIn = HTTPServerRequestPart
    public typealias OutboundOut = HTTPServerResponsePart

    public struct Probe: Sendable {
        /// Nil when ready, else why not. It may do blocking work, on a thread pool: it answers with a future.
        public var readiness: @Sendable (EventLoop) -> EventLoopFuture<String?>
        public var active: (@Sendable () -> Bool)?
        public var metrics: (@Sendable () -> [UInt8])?

        public init(readiness: @escaping @Sendable (EventLoop) -> EventLoopFuture<String?>, active: (@Sendable () -> Bool)? = nil,
                    metrics: (@Sendable () -> [UInt8])? = nil) {
            self.readiness = readiness
            self.active = active
            self.metrics = metrics
        }
    }

    private let probe: Probe
    private var head: HTTPRequestHead?

    public init(probe: Probe) { self.probe = probe }

    /// Binds a health listener.
    /// `allowed`: the networks whose peers are served; anyone else is closed before a byte is read.
    public static func bind(_ address: SocketAddress, group: EventLoopGroup, probe: Probe, allowed: TrustedNetworks) async throws -> Channel {
        try await bind(address, group: group, probe: probe, allowed: { allowed })
    }

    /// `allowed` is asked at each connection (it changes on SIGHUP).
    public static func bind(_ address: SocketAddress, group: EventLoopGroup, probe: Probe,
                            allowed: @escaping @Sendable () -> TrustedNetworks) async throws -> Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                if allowed().refuse(channel) { return channel.eventLoop.makeSucceededVoidFuture() }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(HealthHandler(probe: probe))
                }
            }
            .bind(to: address).get()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
        case .body:
            break  // bodies are ignored (bounded by the HTTP decoder's own limits)
        case .end:
            guard let head else { return }
            self.head = nil
            route(head, context: context)
        }
    }

    private func route(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard head.method == .GET || head.method == .HEAD else { return respond(context, head, .methodNotAllowed, "GET only\n") }
        switch head.uri {
        case "/health/live":
            respond(context, head, .ok, "live\n")
        case "/health/ready":
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            probe.readiness(context.eventLoop).whenComplete { result in
                let (handler, context) = bound.value
                switch result {
                case .success(nil): handler.respond(context, head, .ok, "ready\n")
                case .success(let why?): handler.respond(context, head, .serviceUnavailable, why + "\n")
                case .failure(let error): handler.respond(context, head, .serviceUnavailable, "\(error)\n")
                }
            }
        case "/health/active":
            guard let active = probe.active else { return respond(context, head, .notFound, "not a coordinator\n") }
            active() ? respond(context, head, .ok, "active\n") : respond(context, head, .serviceUnavailable, "standby\n")
        case "/metrics":
            guard let metrics = probe.metrics else { return respond(context, head, .notFound, "no metrics backend\n") }
            respond(context, head, .ok, String(decoding: metrics(), as: UTF8.self), contentType: "text/plain; version=0.0.4; charset=utf-8")
        default:
            respond(context, head, .notFound, "not found\n")
        }
    }

    private func respond(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, _ status: HTTPResponseStatus, _ body: String,
                         contentType: String = "text/plain; charset=utf-8") {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}
