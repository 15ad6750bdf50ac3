import Logging
import NIOCore
import NIOPosix
import SharedStore

/// Postfix's socketmap protocol (socketmap_table(5)): netstring requests "<name> <key>", netstring replies
/// "OK <value>", "NOTFOUND ", "TEMP <reason>" or "PERM <reason>". Two maps, answered from the metabase and the
/// store, so Postfix refuses unknown recipients in its own SMTP dialogue:
/// - `domains`: key a domain → OK if the metabase accepts it (virtual_mailbox_domains);
/// - `mailboxes`: key user@domain → OK if the mailbox exists in an accepted domain (virtual_mailbox_maps).
final class SocketmapHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// socketmap_table(5): requests are at most 100,000 octets; names and keys here are far shorter.
    static let maxRequest = 10_000

    private let shared: InboundServer.Shared
    private var buffer: [UInt8] = []
    private var busy = false

    init(shared: InboundServer.Shared) {
        self.shared = shared
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer += incoming.readBytes(length: incoming.readableBytes) ?? []
        process(context)
    }

    private func process(_ context: ChannelHandlerContext) {
        guard !busy else { return }
        switch Self.netstring(buffer) {
        case .needMore:
            if buffer.count > Self.maxRequest + 8 { context.close(promise: nil) }
        case .invalid:
            context.close(promise: nil)
        case .value(let payload, let consumed):
            buffer.removeFirst(consumed)
            busy = true
            let store = shared.delivery.store
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            shared.threadPool.runIfActive(eventLoop: context.eventLoop) {
                Self.answer(String(decoding: payload, as: UTF8.self), store: store)
            }.whenComplete { result in
                let (handler, context) = bound.value
                handler.busy = false
                let reply: String
                switch result {
                case .success(let r): reply = r
                case .failure: reply = "TEMP shutting down"
                }
                var out = context.channel.allocator.buffer(capacity: reply.utf8.count + 8)
                out.writeString("\(reply.utf8.count):\(reply),")
                context.writeAndFlush(handler.wrapOutboundOut(out), promise: nil)
                handler.process(context)
            }
        }
    }

    enum Parsed: Equatable {
        case needMore
        case invalid
        case value([UInt8], consumed: Int)
    }

    /// "<length>:<payload>," (djb's netstrings).
    static func netstring(_ bytes: [UInt8]) -> Parsed {
        guard let colon = bytes.prefix(7).firstIndex(of: 0x3A) else {
            return bytes.count >= 7 || bytes.contains(where: { !($0 >= 0x30 && $0 <= 0x39) }) ? .invalid : .needMore
        }
        guard colon > 0, bytes[..<colon].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let length = Int(String(decoding: bytes[..<colon], as: UTF8.self)), length <= maxRequest
        else { return .invalid }
        let end = colon + 1 + length
        guard bytes.count > end else { return .needMore }
        guard bytes[end] == 0x2C else { return .invalid }
        return .value(Array(bytes[(colon + 1)..<end]), consumed: end + 1)
    }

    /// Blocking (store reads).
    static func answer(_ request: String, store: MailStore) -> String {
        guard let space = request.firstIndex(of: " ") else { return "PERM malformed request" }
        let name = request[..<space]
        let key = request[request.index(after: space)...].lowercased()
        do {
            switch name {
            case "domains":
                guard (try? Names.validateDomain(key)) != nil else { return "NOTFOUND " }
                return try store.isDomainAccepted(key) ? "OK \(key)" : "NOTFOUND "
            case "mailboxes":
                guard let address = try? MailboxAddress(parsing: key), try store.isDomainAccepted(address.domain),
                    try store.mailboxExists(address)
                else { return "NOTFOUND " }
                return "OK \(address)"
            default:
                return "PERM unknown map \(name.prefix(40))"
            }
        } catch {
            return "TEMP mail store unavailable"
        }
    }
}
