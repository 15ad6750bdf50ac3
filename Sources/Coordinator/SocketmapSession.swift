import Logging
import NIOCore
import SMTPCore
import ServerSupport
import SharedStore

/// Postfix's socketmap protocol (socketmap_table(5)) on the shared connection skeleton, in raw framing: netstring
/// requests "<name> <key>", netstring replies "OK <value>", "NOTFOUND ", "TEMP <reason>" or "PERM <reason>". Two maps,
/// answered from the metabase and the store, so Postfix refuses unknown recipients in its own SMTP dialogue:
/// - `domains`: key a domain → OK if the metabase accepts it (virtual_mailbox_domains);
/// - `mailboxes`: key user@domain → OK if the mailbox exists in an accepted domain (virtual_mailbox_maps).
/// One request is answered at a time; while a lookup runs, nothing more is read.
final class SocketmapSession: LineSession {
    private let shared: InboundServer.Shared
    private var decoder = NetstringDecoder()
    private weak var connection: LineConnection?

    init(shared: InboundServer.Shared) {
        self.shared = shared
    }

    static func connectionOptions(_ configuration: CoordinatorConfiguration) -> LineConnection.Options {
        LineConnection.Options(framing: .raw, idleTimeout: configuration.idleTimeout)
    }

    func connectionStarted(_ connection: LineConnection) {
        self.connection = connection
    }

    func received(_ event: LineFramer.Event, on connection: LineConnection) {}

    func receivedRaw(_ bytes: [UInt8], on connection: LineConnection) {
        decoder.append(bytes)
        answerNext()
    }

    func timedOut(_ timeout: ConnectionTimeout, on connection: LineConnection) {
        connection.close()
    }

    func connectionEnded() {}

    private func answerNext() {
        guard let connection, !connection.isClosing, !connection.isHolding else { return }
        switch decoder.next() {
        case .needMore:
            return
        case .invalid:
            // Not the protocol: Postfix never sends this. Nothing to answer that it could read.
            connection.close()
        case .value(let payload):
            let store = shared.delivery.store
            let recipients = shared.delivery.recipients
            connection.offload(on: shared.threadPool, { Self.answer(String(decoding: payload, as: UTF8.self), store: store, recipients: recipients) }) { [self] result in
                let reply: String
                switch result {
                case .success(let r): reply = r
                case .failure: reply = "TEMP shutting down"
                }
                connection.write(NetstringDecoder.encode(Array(reply.utf8)))
                answerNext()
            }
        }
    }

    /// Blocking (store reads).
    static func answer(_ request: String, store: MailStore, recipients: RecipientResolver? = nil) -> String {
        guard let space = request.firstIndex(of: " ") else { return "PERM malformed request" }
        let name = request[..<space]
        let key = request[request.index(after: space)...].lowercased()
        do {
            switch name {
            case "domains":
                guard (try? Names.validateDomain(key)) != nil else { return "NOTFOUND " }
                return try store.isDomainAccepted(key) ? "OK \(key)" : "NOTFOUND "
            case "mailboxes":
                guard let address = try? MailboxAddress(parsing: key), try store.isDomainAccepted(address.domain) else { return "NOTFOUND " }
                switch try (recipients ?? RecipientResolver(store: store)).resolve(address) {
                case .deliverable: return "OK \(address)"
                case .unknown: return "NOTFOUND "
                case .unavailable: return "TEMP account directory unavailable"
                }
            default:
                return "PERM unknown map \(LogSafeText.escaped(String(name), limit: 40))"
            }
        } catch {
            return "TEMP mail store unavailable"
        }
    }
}
