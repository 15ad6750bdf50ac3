import NIOCore
import ServerSupport

/// The client a request came from: the peer, or, when the peer is a trusted reverse proxy (`--trusted-proxy`), the
/// address that proxy appended last to `X-Forwarded-For` (the one hop it vouches for; anything before it was sent by
/// the client and could be forged). Used by the audit log and the auth penalty.
enum ClientAddress {
    /// The most bytes of an `X-Forwarded-For` header read.
    static let maxHeaderBytes = 1024

    static func resolve(peer: SocketAddress?, forwardedFor: String?, trusted: TrustedNetworks) -> SocketAddress? {
        guard let peer, trusted.contains(peer), let header = forwardedFor, header.utf8.count <= maxHeaderBytes,
            let last = header.split(separator: ",").last
        else { return peer }
        var text = last.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            text = String(text[text.index(after: text.startIndex)..<close])
        }
        return (try? SocketAddress(ipAddress: text, port: 0)) ?? peer
    }
}
