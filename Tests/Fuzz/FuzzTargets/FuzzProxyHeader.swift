import ServerSupport

/// (d) The PROXY v1/v2 header decoder and `ProxyHeaderGate`.
///
/// Input: the bytes a peer sends first (a real header from HAProxy, or anything). The last byte also chooses how
/// the bytes arrive (the chunk size, 1...17, for the incremental checks); it is part of the stream too.
public enum FuzzProxyHeader {
    public static func run(_ data: [UInt8]) {
        let chunk = 1 + Int(data.last ?? 0) % 17

        // The decoder is total and consistent: what it consumed is there; a decision never changes with more bytes.
        let result = ProxyHeaderDecoder.decode(data)
        switch result {
        case .proxied(let source, let destination, let consumed):
            fuzzCheck(consumed > 0 && consumed <= data.count, "consumed \(consumed) of \(data.count) bytes")
            for a in [source, destination] {
                fuzzCheck((0...65535).contains(a.port), "port \(a.port)")
                // The decoder gives canonical text: it parses back to itself.
                if let v4 = IPAddressText.parseIPv4(a.host) {
                    fuzzCheck(IPAddressText.formatIPv4(v4) == a.host, "IPv4 \(a.host) not canonical")
                } else if let v6 = IPAddressText.parseIPv6(a.host) {
                    fuzzCheck(IPAddressText.formatIPv6(v6) == a.host, "IPv6 \(a.host) not canonical")
                } else {
                    fuzzCheck(false, "address \(a.host) does not parse")
                }
            }
            fuzzCheck(ProxyHeaderDecoder.decode(Array(data.prefix(consumed))) == result, "the header alone decodes differently")
        case .local(let consumed):
            fuzzCheck(consumed > 0 && consumed <= data.count, "consumed \(consumed) of \(data.count) bytes")
            fuzzCheck(ProxyHeaderDecoder.decode(Array(data.prefix(consumed))) == result, "the header alone decodes differently")
        case .needMoreBytes, .invalid:
            break
        }
        // A prefix never decides otherwise than the whole: it needs more bytes, or it decides the same.
        var n = chunk
        while n < min(data.count, 1200) {
            let partial = ProxyHeaderDecoder.decode(Array(data.prefix(n)))
            if partial != .needMoreBytes {
                if case .invalid = partial, case .invalid = result {} else {
                    fuzzCheck(partial == result, "prefix of \(n) bytes decided \(partial), the whole \(result)")
                }
            }
            n += chunk
        }
        if case .needMoreBytes = result {
            fuzzCheck(isHeaderPrefix(data), "needs more bytes but cannot be a header")
        }

        // The gate, fed in chunks: its verdict is final, and agrees with the decoder's view of the first bytes.
        var gate = ProxyHeaderGate()
        var offset = 0
        var verdict = ProxyHeaderGate.Verdict.undecided
        while offset < data.count {
            let next = gate.inspect(data[offset..<min(data.count, offset + chunk)])
            if verdict != .undecided { fuzzCheck(next == verdict, "the gate changed its verdict") }
            verdict = next
            offset += chunk
        }
        switch verdict {
        case .header: fuzzCheck(ProxyHeaderDecoder.looksLikeHeader(data), "gate says header, decoder disagrees")
        case .notAHeader: fuzzCheck(!isHeaderPrefix(Array(data.prefix(12))), "gate lets a header through (chunks of \(chunk))")
        case .undecided: fuzzCheck(data.count < 12, "undecided after 12 bytes")
        }

        // The v1 address grammar on its own: parse → format → parse is stable.
        let text = String(decoding: data.dropFirst().prefix(64), as: UTF8.self)
        if let v4 = IPAddressText.parseIPv4(text) {
            fuzzCheck(IPAddressText.parseIPv4(IPAddressText.formatIPv4(v4)) == v4, "IPv4 round trip")
        }
        if let v6 = IPAddressText.parseIPv6(text) {
            fuzzCheck(v6.count == 16, "IPv6 of \(v6.count) bytes")
            fuzzCheck(IPAddressText.parseIPv6(IPAddressText.formatIPv6(v6)) == v6, "IPv6 round trip")
        }
    }

    /// The bytes are the start of a v1 line ("PROXY " then anything) or of the v2 signature.
    static func isHeaderPrefix(_ bytes: [UInt8]) -> Bool {
        guard let first = bytes.first else { return true }
        let v1 = Array("PROXY ".utf8), v2 = ProxyHeaderDecoder.v2Signature
        if first == v1[0] { return Array(bytes.prefix(v1.count)) == Array(v1.prefix(min(bytes.count, v1.count))) }
        return Array(bytes.prefix(v2.count)) == Array(v2.prefix(min(bytes.count, v2.count)))
    }
}
