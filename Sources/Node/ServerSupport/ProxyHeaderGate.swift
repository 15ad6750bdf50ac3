/// Only the configured load balancers may say who the client is. On a connection from anywhere else, the first bytes
/// decide whether the peer is trying to: a PROXY v1 line ("PROXY ") or the v2 signature (which contains "QUIT\n",
/// a command to a line-oriented server). Pure: bytes in, a verdict out.
public struct ProxyHeaderGate: Sendable {
    public enum Verdict: Sendable, Equatable {
        /// Not enough bytes yet to tell.
        case undecided
        /// Not a PROXY header: the bytes are the protocol's own.
        case notAHeader
        /// A PROXY header from a peer that may not send one.
        case header
    }

    private var seen: [UInt8] = []
    public private(set) var verdict = Verdict.undecided

    public init() {}

    /// Looks at the next bytes of the stream (only the first 12 matter).
    public mutating func inspect(_ bytes: some Collection<UInt8>) -> Verdict {
        guard verdict == .undecided else { return verdict }
        let signature = ProxyHeaderDecoder.v2Signature
        seen += bytes.prefix(signature.count - seen.count)
        // Under 4 bytes `looksLikeHeader` says no to the start of the v2 signature ("\r", "\r\n", "\r\n\r"): a peer
        // whose first read was that short got its v2 header through as protocol bytes. Such a start stays undecided.
        let v2Start = seen.count < 4 && seen == Array(signature.prefix(seen.count))
        if !v2Start && !ProxyHeaderDecoder.looksLikeHeader(seen) {
            verdict = .notAHeader
        } else if (seen.count >= 6 && seen.first == UInt8(ascii: "P")) || seen.count >= signature.count {
            verdict = .header
        }
        return verdict
    }
}
