import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import SharedStore

/// The byte stream under `ImportPOP3Client`: a NIO channel, plain, TLS from the start (POP3S) or upgraded by STLS,
/// read and written by one blocking import thread (never an event loop). Received bytes wait in an inbox; a reader
/// waits at most the timeout; reading stops while more than a megabyte waits unread. The peer's certificate is verified against the system's roots (or `--ca-file`) and
/// the host name unless the operator passes `--insecure`.
// @unchecked Sendable: the channel is Sendable; the inbox is guarded by its condition; one import thread calls it.
final class ImportPOP3Connection: @unchecked Sendable {
    enum Security: Sendable {
        case none
        case tls(TLSSettings)
        case startTLS(TLSSettings)
    }

    struct TLSSettings: Sendable {
        var caFile: String?
        var insecure = false
        var serverName: String
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private let channel: any Channel
    private let inbox: Inbox
    private let timeoutSeconds: Int
    private let security: Security

    init(host: String, port: Int, security: Security, timeoutSeconds: Int) throws {
        self.timeoutSeconds = timeoutSeconds
        self.security = security
        let inbox = Inbox()
        self.inbox = inbox
        var tlsFromStart: NIOSSLContext?
        var serverName: String?
        if case .tls(let settings) = security {
            tlsFromStart = try Self.context(settings)
            serverName = Self.sniName(settings.serverName)
        }
        let sni = serverName
        let context = tlsFromStart
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(Int64(timeoutSeconds)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: sni))
                    }
                    try channel.pipeline.syncOperations.addHandler(InboxHandler(inbox: inbox))
                }
            }
        do {
            channel = try bootstrap.connect(host: host, port: port).wait()
        } catch {
            throw Failure(description: "cannot connect to \(host) port \(port): \(error)")
        }
        let channel = self.channel
        inbox.resume = { channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in } }
    }

    static func context(_ settings: TLSSettings) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if settings.insecure {
            configuration.certificateVerification = .none
        } else if let caFile = settings.caFile {
            configuration.trustRoots = .file(caFile)
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw Failure(description: "cannot set up TLS: \(error)")
        }
    }

    /// SNI carries a host name, never an address (RFC 6066 §3): for an address the certificate is still checked
    /// against it.
    static func sniName(_ host: String) -> String? {
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1 { return nil }
        return host
    }

    /// STLS (RFC 2595 §4): after the server's +OK, TLS starts before anything else is sent.
    func startTLS() throws {
        guard case .startTLS(let settings) = security else { return }
        let context = try Self.context(settings)
        let sni = Self.sniName(settings.serverName)
        do {
            try channel.eventLoop.submit { [channel] in
                try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: sni), position: .first)
            }.wait()
        } catch {
            throw Failure(description: "STLS: cannot start TLS: \(error)")
        }
    }

    /// The next bytes received; waits at most the timeout.
    func receive() throws -> [UInt8] {
        try inbox.take(timeoutSeconds: timeoutSeconds)
    }

    func send(_ bytes: [UInt8]) throws {
        do {
            try channel.writeAndFlush(ByteBuffer(bytes: bytes)).wait()
        } catch {
            throw Failure(description: "cannot send: \(error)")
        }
    }

    func close() {
        try? channel.close().wait()
    }

    /// What the channel received and whether it ended, for the blocking reader. Back-pressure: above `highWater`
    /// unread bytes the handler stops reading (autoRead off) until the reader takes them, so a server that sends
    /// faster than the store writes, or sends what nobody asked for, costs at most `limit` bytes here.
    final class Inbox: @unchecked Sendable {
        static let highWater = 1 << 20
        /// What may still arrive after reading stopped (reads already under way); past it the connection ends.
        static let limit = 8 << 20

        private let condition = NSCondition()
        private var bytes: [UInt8] = []
        private var ended: String?
        private var paused = false
        /// Turns reading back on (set once the channel exists).
        var resume: (@Sendable () -> Void)?

        enum Taken { case fine, pause, overflow }

        func append(_ more: [UInt8]) -> Taken {
            condition.lock()
            defer { condition.unlock() }
            guard bytes.count + more.count <= Self.limit else {
                if ended == nil { ended = "the server sent more than \(Self.limit) bytes before they were read" }
                condition.broadcast()
                return .overflow
            }
            bytes += more
            condition.broadcast()
            if bytes.count > Self.highWater && !paused {
                paused = true
                return .pause
            }
            return .fine
        }

        func end(_ why: String) {
            condition.lock()
            if ended == nil { ended = why }
            condition.broadcast()
            condition.unlock()
        }

        func take(timeoutSeconds: Int) throws -> [UInt8] {
            condition.lock()
            let deadline = Date(timeIntervalSinceNow: TimeInterval(timeoutSeconds))
            while bytes.isEmpty && ended == nil {
                if !condition.wait(until: deadline) {
                    condition.unlock()
                    throw Failure(description: "no answer within \(timeoutSeconds) s")
                }
            }
            if bytes.isEmpty {
                let why = ended ?? "the connection ended"
                condition.unlock()
                throw Failure(description: why)
            }
            let taken = bytes
            bytes.removeAll(keepingCapacity: false)
            let wasPaused = paused
            paused = false
            condition.unlock()
            if wasPaused { resume?() }
            return taken
        }
    }

    /// Hands what arrives to the inbox; the end of the connection or an error (a TLS failure) ends it.
    final class InboxHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let inbox: Inbox

        init(inbox: Inbox) { self.inbox = inbox }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            guard let bytes = buffer.readBytes(length: buffer.readableBytes) else { return }
            switch inbox.append(bytes) {
            case .fine: break
            case .pause: context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
            case .overflow: context.close(promise: nil)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            inbox.end("the server closed the connection")
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            inbox.end("the connection failed: \(error)")
            context.close(promise: nil)
        }
    }
}
