import Foundation
import NIOCore

/// Networks (CIDR blocks) whose connections are load balancers: only they may (and must) send a PROXY header.
public struct TrustedNetworks: Sendable, Equatable {
    public struct Block: Sendable, Equatable, CustomStringConvertible {
        public var address: [UInt8]  // 4 or 16 bytes
        public var prefix: Int
        public var description: String {
            (address.count == 4 ? IPAddressText.formatIPv4(address) : IPAddressText.formatIPv6(address)) + "/\(prefix)"
        }
    }

    public var blocks: [Block]

    public init(_ blocks: [Block] = []) { self.blocks = blocks }

    /// Parses "10.0.0.0/8,127.0.0.1,::1/128"; a bare address is a single host.
    public init(parsing text: String) throws {
        var blocks: [Block] = []
        for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            let parts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2, let bytes = IPAddressText.parseIPv4(String(parts[0])) ?? IPAddressText.parseIPv6(String(parts[0])) else {
                throw TrustedNetworksError("\(item) is not an address or a CIDR block")
            }
            let maxPrefix = bytes.count * 8
            let prefix = parts.count == 2 ? Int(parts[1]) : maxPrefix
            guard let prefix, (0...maxPrefix).contains(prefix) else { throw TrustedNetworksError("\(item): prefix must be 0 to \(maxPrefix)") }
            blocks.append(Block(address: bytes, prefix: prefix))
        }
        self.blocks = blocks
    }

    public var isEmpty: Bool { blocks.isEmpty }

    /// 127.0.0.0/8 and ::1: the default of every listener only local peers need (LMTP, socketmap, health, metrics).
    public static let loopback = TrustedNetworks([Block(address: [127, 0, 0, 0], prefix: 8),
                                                  Block(address: Array(repeating: 0, count: 15) + [1], prefix: 128)])

    /// Whether a socket peer is in these networks (a Unix socket never is).
    public func contains(_ address: SocketAddress) -> Bool {
        guard !isEmpty else { return false }
        switch address {
        case .v4(let a):
            return contains(withUnsafeBytes(of: a.address.sin_addr) { Array($0) })
        case .v6(let a):
            return contains(withUnsafeBytes(of: a.address.sin6_addr) { Array($0) })
        case .unixDomainSocket:
            return false
        }
    }

    /// For a listener's child channel initializer: a peer outside these networks is closed before anything is sent
    /// or read (true: refused).
    public func refuse(_ channel: Channel) -> Bool {
        guard let remote = channel.remoteAddress, contains(remote) else {
            channel.close(promise: nil)
            return true
        }
        return false
    }

    /// `address`: 4 or 16 bytes. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) matches IPv4 blocks too.
    public func contains(_ address: [UInt8]) -> Bool {
        var candidates = [address]
        if address.count == 16, address[0..<10].allSatisfy({ $0 == 0 }), address[10] == 0xFF, address[11] == 0xFF {
            candidates.append(Array(address[12..<16]))
        }
        return blocks.contains { block in
            candidates.contains { a in
                guard a.count == block.address.count else { return false }
                var bits = block.prefix
                for i in 0..<a.count where bits > 0 {
                    let mask: UInt8 = bits >= 8 ? 0xFF : ~(0xFF >> UInt8(bits))
                    if a[i] & mask != block.address[i] & mask { return false }
                    bits -= 8
                }
                return true
            }
        }
    }
}

public struct TrustedNetworksError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}
