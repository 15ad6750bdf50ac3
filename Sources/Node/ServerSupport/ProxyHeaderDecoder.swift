import Foundation

/// The PROXY protocol header a load balancer (HAProxy `send-proxy` / `send-proxy-v2`) puts in front of a
/// connection, so the server learns the real client address. Pure: bytes in, a result out; the channel handler
/// around it decides what to do. Spec: haproxy.org's proxy-protocol.txt, versions 1 (text) and 2 (binary).
public enum ProxyHeaderDecoder {
    /// Version 1: "PROXY" … CRLF is at most 107 bytes (spec §2.1).
    public static let maxV1Length = 107
    /// Version 2: 16 bytes and an address block whose length is announced; we accept address blocks (with TLVs)
    /// up to this size, far above what HAProxy sends (spec §2.2 allows 65535).
    public static let maxV2AddressBlock = 1024
    /// The 12-byte signature of version 2.
    public static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    public struct Address: Sendable, Equatable {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    public enum Result: Sendable, Equatable {
        /// Not enough bytes yet to decide.
        case needMoreBytes
        /// A proxied connection: the real source and the address the client connected to. `consumed` header bytes.
        case proxied(source: Address, destination: Address, consumed: Int)
        /// The proxy's own connection (a health check, v2 LOCAL, or v1 UNKNOWN): use the socket's addresses.
        case local(consumed: Int)
        /// Not a valid header: the connection must be closed.
        case invalid(String)
    }

    /// True when `bytes` begin like a PROXY header of either version (enough to refuse one from an untrusted peer).
    public static func looksLikeHeader(_ bytes: some Collection<UInt8>) -> Bool {
        let v1 = Array("PROXY ".utf8)
        let n = min(bytes.count, 6)
        if n > 0, Array(bytes.prefix(n)) == Array(v1.prefix(n)) { return true }
        let m = min(bytes.count, v2Signature.count)
        return m >= 4 && Array(bytes.prefix(m)) == Array(v2Signature.prefix(m))
    }

    public static func decode(_ bytes: [UInt8]) -> Result {
        guard let first = bytes.first else { return .needMoreBytes }
        if first == 0x0D { return decodeV2(bytes) }
        if first == UInt8(ascii: "P") { return decodeV1(bytes) }
        return .invalid("no PROXY header")
    }

    // MARK: Version 1: "PROXY TCP4|TCP6|UNKNOWN src dst sport dport\r\n"

    static func decodeV1(_ bytes: [UInt8]) -> Result {
        let prefix = Array("PROXY ".utf8)
        guard Array(bytes.prefix(prefix.count)) == Array(prefix.prefix(min(bytes.count, prefix.count))) else {
            return .invalid("no PROXY header")
        }
        guard let lf = bytes.prefix(maxV1Length).firstIndex(of: 0x0A) else {
            return bytes.count >= maxV1Length ? .invalid("PROXY v1 line longer than \(maxV1Length) bytes") : .needMoreBytes
        }
        guard lf > 0, bytes[lf - 1] == 0x0D else { return .invalid("PROXY v1 line does not end in CRLF") }
        guard let line = String(validating: bytes[prefix.count..<(lf - 1)], as: UTF8.self) else { return .invalid("PROXY v1 line is not text") }
        let fields = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        if fields.first == "UNKNOWN" { return .local(consumed: lf + 1) }
        guard fields.count == 5, fields[0] == "TCP4" || fields[0] == "TCP6" else { return .invalid("PROXY v1: bad fields") }
        let v6 = fields[0] == "TCP6"
        guard let source = parseHost(fields[1], v6: v6), let destination = parseHost(fields[2], v6: v6),
            let sport = parsePort(fields[3]), let dport = parsePort(fields[4])
        else { return .invalid("PROXY v1: bad address or port") }
        return .proxied(source: Address(host: source, port: sport), destination: Address(host: destination, port: dport), consumed: lf + 1)
    }

    static func parsePort(_ s: String) -> Int? {
        guard (1...5).contains(s.count), s.allSatisfy(\.isASCII), !(s.count > 1 && s.hasPrefix("0")), let p = Int(s), (0...65535).contains(p) else { return nil }
        return p
    }

    static func parseHost(_ s: String, v6: Bool) -> String? {
        if v6 { return IPAddressText.parseIPv6(s).map(IPAddressText.formatIPv6) }
        return IPAddressText.parseIPv4(s).map(IPAddressText.formatIPv4)
    }

    // MARK: Version 2: signature, ver/cmd, family/protocol, length, addresses, TLVs

    static func decodeV2(_ bytes: [UInt8]) -> Result {
        let n = min(bytes.count, v2Signature.count)
        guard Array(bytes.prefix(n)) == Array(v2Signature.prefix(n)) else { return .invalid("no PROXY header") }
        guard bytes.count >= 16 else { return .needMoreBytes }
        let versionCommand = bytes[12]
        guard versionCommand >> 4 == 2 else { return .invalid("PROXY v2: version \(versionCommand >> 4)") }
        let length = Int(bytes[14]) << 8 | Int(bytes[15])
        guard length <= maxV2AddressBlock else { return .invalid("PROXY v2: address block of \(length) bytes") }
        guard bytes.count >= 16 + length else { return .needMoreBytes }
        let consumed = 16 + length
        switch versionCommand & 0x0F {
        case 0x0: return .local(consumed: consumed)
        case 0x1: break
        default: return .invalid("PROXY v2: command \(versionCommand & 0x0F)")
        }
        let block = Array(bytes[16..<consumed])
        let family = bytes[13] >> 4, transport = bytes[13] & 0x0F
        switch (family, transport) {
        case (0x1, 0x1):  // TCP over IPv4: 4 + 4 + 2 + 2
            guard block.count >= 12 else { return .invalid("PROXY v2: short IPv4 block") }
            return .proxied(source: Address(host: IPAddressText.formatIPv4(Array(block[0..<4])), port: Int(block[8]) << 8 | Int(block[9])),
                            destination: Address(host: IPAddressText.formatIPv4(Array(block[4..<8])), port: Int(block[10]) << 8 | Int(block[11])),
                            consumed: consumed)
        case (0x2, 0x1):  // TCP over IPv6: 16 + 16 + 2 + 2
            guard block.count >= 36 else { return .invalid("PROXY v2: short IPv6 block") }
            return .proxied(source: Address(host: IPAddressText.formatIPv6(Array(block[0..<16])), port: Int(block[32]) << 8 | Int(block[33])),
                            destination: Address(host: IPAddressText.formatIPv6(Array(block[16..<32])), port: Int(block[34]) << 8 | Int(block[35])),
                            consumed: consumed)
        case (0x0, _):  // UNSPEC: keep the socket's addresses
            return .local(consumed: consumed)
        default:
            return .invalid("PROXY v2: family \(family) transport \(transport) not served")
        }
    }
}

/// Textual IP addresses without the socket API: parsing and canonical formatting.
public enum IPAddressText {
    public static func parseIPv4(_ s: String) -> [UInt8]? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            guard (1...3).contains(p.count), p.allSatisfy({ $0.isASCII && $0.isNumber }), !(p.count > 1 && p.hasPrefix("0")),
                let v = UInt8(p) else { return nil }
            out.append(v)
        }
        return out
    }

    public static func formatIPv4(_ b: [UInt8]) -> String { b.map(String.init).joined(separator: ".") }

    public static func parseIPv6(_ s: String) -> [UInt8]? {
        guard s.count <= 45, !s.isEmpty else { return nil }
        var head: [UInt16] = [], tail: [UInt16] = []
        let halves = s.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String, allowV4: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            let items = part.split(separator: ":", omittingEmptySubsequences: false)
            for (i, item) in items.enumerated() {
                if allowV4, i == items.count - 1, item.contains("."), let v4 = parseIPv4(String(item)) {
                    out += [UInt16(v4[0]) << 8 | UInt16(v4[1]), UInt16(v4[2]) << 8 | UInt16(v4[3])]
                    continue
                }
                guard (1...4).contains(item.count), let v = UInt16(item, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        guard let h = groups(halves[0], allowV4: halves.count == 1) else { return nil }
        head = h
        if halves.count == 2 {
            guard let t = groups(halves[1], allowV4: true) else { return nil }
            tail = t
            guard head.count + tail.count <= 7 else { return nil }
        } else {
            guard head.count == 8 else { return nil }
        }
        let all = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    /// RFC 5952 form: lowercase, leading zeros dropped, the longest run of two or more zero groups as "::".
    public static func formatIPv6(_ b: [UInt8]) -> String {
        let g = (0..<8).map { UInt16(b[2 * $0]) << 8 | UInt16(b[2 * $0 + 1]) }
        var best = (start: -1, length: 0), i = 0
        while i < 8 {
            if g[i] == 0 {
                var j = i
                while j < 8, g[j] == 0 { j += 1 }
                if j - i > best.length { best = (i, j - i) }
                i = j
            } else { i += 1 }
        }
        let hex = g.map { String($0, radix: 16) }
        guard best.length >= 2 else { return hex.joined(separator: ":") }
        return hex[0..<best.start].joined(separator: ":") + "::" + hex[(best.start + best.length)...].joined(separator: ":")
    }
}
