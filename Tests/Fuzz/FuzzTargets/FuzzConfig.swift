import Configuration
import ServerSupport

/// (h) The configuration file, as far as a library reaches it. The `poplar` executable reads JSON through
/// swift-configuration (`FileProvider<JSONSnapshot>`) and turns the values into a `NodeConfiguration` /
/// `CoordinatorConfiguration` in its own target (`NodeCommand.configuration`, `parseAddress`, the node id rule),
/// which no library exports: that part is not reached (docs/fuzzing.md). Reached: the JSON snapshot parser with
/// the keys poplar reads, and the library parsers those values go through: `TrustedNetworks(parsing:)`
/// (proxy.trusted, http.allow, --mta-networks), `TLSPolicy.Version` (tls.min-version), `IPAddressText`.
///
/// Input: byte 0 chooses: even, the rest is a JSON config file; odd, the rest is one CIDR list.
public enum FuzzConfig {
    static let stringKeys = ["proxy.trusted", "http.allow", "tls.min-version", "tls.tls12-ciphers", "pop3.plaintext",
                             "pop3.greeting", "pop3.implementation", "node.id", "log.level", "tls.cert", "tls.key", "root", "guid-file"]
    static let arrayKeys = ["pop3.listen", "pop3.tls-listen", "http.listen"]
    static let intKeys = ["pop3.max-connections", "pop3.max-connections-per-ip", "pop3.backlog", "pop3.max-bad-commands"]
    static let doubleKeys = ["pop3.idle-timeout", "pop3.auth-idle-timeout", "pop3.login-timeout", "node.registry-interval"]

    public static func run(_ data: [UInt8]) {
        guard let selector = data.first else { return }
        let rest = Array(data.dropFirst())
        if selector & 1 == 0 { json(rest) } else { networks(String(decoding: rest, as: UTF8.self)) }
    }

    static func json(_ bytes: [UInt8]) {
        let snapshot: JSONSnapshot
        do {
            snapshot = try JSONSnapshot(data: bytes.span.bytes, providerName: "fuzz", parsingOptions: .default)
        } catch {
            return
        }
        func key(_ dotted: String) -> AbsoluteConfigKey { AbsoluteConfigKey(dotted.split(separator: ".").map(String.init)) }
        for k in stringKeys {
            guard case .string(let s)? = (try? snapshot.value(forKey: key(k), type: .string))?.value?.content else { continue }
            switch k {
            case "proxy.trusted", "http.allow": networks(s)
            case "tls.min-version": _ = TLSPolicy.Version(rawValue: s)
            default: _ = s.utf8.count
            }
        }
        for k in arrayKeys {
            guard case .stringArray(let list)? = (try? snapshot.value(forKey: key(k), type: .stringArray))?.value?.content else { continue }
            for spec in list.prefix(16) {
                // host:port as parseAddress splits it: the host part through the library's address parsers.
                let host = spec.split(separator: ":", omittingEmptySubsequences: false).dropLast().joined(separator: ":")
                _ = IPAddressText.parseIPv4(host) ?? IPAddressText.parseIPv6(String(host.trimmingPrefix("[").dropLast(host.hasSuffix("]") ? 1 : 0)))
            }
        }
        for k in intKeys { _ = try? snapshot.value(forKey: key(k), type: .int) }
        for k in doubleKeys { _ = try? snapshot.value(forKey: key(k), type: .double) }
        _ = try? snapshot.value(forKey: key("pop3.cram-md5"), type: .bool)
    }

    /// A CIDR list: parsed blocks print back to a list that parses to the same blocks, and membership is total.
    static func networks(_ text: String) {
        guard let nets = try? TrustedNetworks(parsing: text) else { return }
        for b in nets.blocks {
            fuzzCheck(b.address.count == 4 || b.address.count == 16, "a block of \(b.address.count) bytes")
            fuzzCheck((0...(b.address.count * 8)).contains(b.prefix), "prefix \(b.prefix)")
        }
        let printed = nets.blocks.map(\.description).joined(separator: ",")
        fuzzCheck((try? TrustedNetworks(parsing: printed)) == nets, "\(printed) does not parse back")
        for probe: [UInt8] in [[127, 0, 0, 1], [10, 1, 2, 3], Array(repeating: 0, count: 15) + [1],
                               Array(repeating: 0, count: 10) + [0xFF, 0xFF, 192, 168, 1, 1], [1, 2, 3]] {
            _ = nets.contains(probe)
        }
        for b in nets.blocks {
            fuzzCheck(nets.contains(b.address), "a network does not contain its own address \(b)")
        }
    }
}
