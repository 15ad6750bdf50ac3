import NIOCore
import NIOHTTP1
import NIOPosix
import SharedStore

/// The node's HTTP endpoint for load balancers and monitoring (`--http-listen`): `GET /health/live` answers 200
/// while the process serves; `GET /health/ready` answers 200 only when the node takes new logins (not draining)
/// and the mail store answers, 503 otherwise. HAProxy checks readiness here, so checks never open POP3 sessions.
/// `GET /metrics` is the Prometheus exposition (the seed's performance counters, as metrics).
final class HealthHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// What readiness needs to know, checked per request.
    struct Probe: Sendable {
        let isDraining: @Sendable () -> Bool
        let store: MailStore
        let threadPool: NIOThreadPool
        /// The Prometheus text exposition of this process's metrics, when a backend was bootstrapped.
        let metrics: (@Sendable () -> [UInt8])?
    }

    private let probe: Probe
    private var head: HTTPRequestHead?

    init(probe: Probe) { self.probe = probe }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
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
            if probe.isDraining() { return respond(context, head, .serviceUnavailable, "draining\n") }
            let store = probe.store
            // The store check blocks (a stat of .poplar/cluster, over NFS a round trip): on the thread pool.
            probe.threadPool.runIfActive(eventLoop: context.eventLoop) { try store.checkReachable() }.whenComplete { result in
                switch result {
                case .success: self.respond(context, head, .ok, "ready\n")
                case .failure(let error): self.respond(context, head, .serviceUnavailable, "store unreachable: \(error)\n")
                }
            }
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
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }
}
