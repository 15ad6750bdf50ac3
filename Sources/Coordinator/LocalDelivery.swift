import Foundation
import SharedStore

/// Delivery of one message from a local source (`poplar deliver`): the bytes are stored as given, bare LF turned
/// into CRLF, no header added. Streams through the store's delivery primitive (tmp, fsync, link into place,
/// directory fsync), so a reader never sees half a message and a failure leaves nothing behind.
public struct LocalDelivery: Sendable {
    /// Messages larger than this are refused (the same bound the coordinator's receivers will apply).
    public static let defaultMaxMessageSize = 64 * 1024 * 1024
    public static let readChunkSize = 64 * 1024

    public let store: MailStore
    public let maxMessageSize: Int

    public init(store: MailStore, maxMessageSize: Int = LocalDelivery.defaultMaxMessageSize) {
        self.store = store
        self.maxMessageSize = maxMessageSize
    }

    public enum Failure: Error, CustomStringConvertible {
        case tooLarge(limit: Int)
        case unreadable(String)
        case unknownRecipient(String)
        public var description: String {
            switch self {
            case .tooLarge(let limit): return "message larger than the limit of \(limit) bytes: not delivered"
            case .unreadable(let why): return "cannot read the message: \(why)"
            case .unknownRecipient(let who): return "no such mailbox: \(who)"
            }
        }
    }

    /// Delivers what `fd` yields until end of file. Blocking.
    public func deliver(to address: MailboxAddress, from fd: Int32, enforceQuota: Bool = true) throws -> MessageInfo {
        guard try store.isDomainAccepted(address.domain), try store.mailboxExists(address) else {
            throw Failure.unknownRecipient(address.description)
        }
        let writer = try store.beginDelivery(to: address)
        var total = 0
        var buffer = [UInt8](repeating: 0, count: Self.readChunkSize)
        do {
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw Failure.unreadable(String(cString: strerror(errno)))
                }
                if n == 0 { break }
                total += n
                if total > maxMessageSize { throw Failure.tooLarge(limit: maxMessageSize) }
                try writer.write(Array(buffer[0..<n]))
            }
            return try writer.finish(enforceQuota: enforceQuota)
        } catch {
            writer.abort()
            throw error
        }
    }
}
