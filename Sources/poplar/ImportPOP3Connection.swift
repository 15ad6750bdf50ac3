import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import SharedStore

/// The byte stream under `ImportPOP3Client`: a NIO channel, plain, TLS from the start (POP3S) or upgraded by STLS,
/// read and written by one blocking import thread (never an event loop). Received bytes wait in an inbox; a reader
/// waits at most the timeout. The peer's certificate is verified against the system's roots (or `--ca-file`) and
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

    /// What the channel received and whether it ended, for the blocking reader.
    final class Inbox: @unchecked Sendable {
        private let condition = NSCondition()
        private var bytes: [UInt8] = []
        private var ended: String?

        /// More than the longest answer waiting unread: the server sends what was not asked for; the connection ends.
        static let limit = ImportLimits.maxMessageBytes + 2 * ImportLimits.maxLineBytes

        /// False once the limit is passed (the caller closes the channel).
        @discardableResult
        func append(_ more: [UInt8]) -> Bool {
            condition.lock()
            defer { condition.unlock() }
            guard bytes.count + more.count <= Self.limit else {
                if ended == nil { ended = "the server sent more than \(Self.limit) bytes nobody asked for" }
                condition.broadcast()
                return false
            }
            bytes += more
            condition.broadcast()
            return true
        }

        func end(_ why: String) {
            condition.lock()
            if ended == nil { ended = why }
            condition.broadcast()
            condition.unlock()
        }

        func take(timeoutSeconds: Int) throws -> [UInt8] {
            condition.lock()
            defer { condition.unlock() }
            let deadline = Date(timeIntervalSinceNow: TimeInterval(timeoutSeconds))
            while bytes.isEmpty && ended == nil {
                if !condition.wait(until: deadline) {
                    throw Failure(description: "no answer within \(timeoutSeconds) s")
                }
            }
            if !bytes.isEmpty {
                defer { bytes.removeAll(keepingCapacity: true) }
                return bytes
            }
            throw Failure(description: ended ?? "the connection ended")
        }
    }

    /// Hands what arrives to the inbox; the end of the connection or an error (a TLS failure) ends it.
    final class InboxHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let inbox: Inbox

        init(inbox: Inbox) { self.inbox = inbox }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            if let bytes = buffer.readBytes(length: buffer.readableBytes), !inbox.append(bytes) { context.close(promise: nil) }
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
