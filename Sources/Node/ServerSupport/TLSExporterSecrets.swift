import NIOConcurrencyHelpers
import NIOCore
import NIOSSL

/// The TLS 1.3 exporter secret of each recent handshake, for the tls-exporter channel binding (RFC 9266), keyed by
/// the handshake's ClientHello random. swift-nio-ssl does not expose SSL_export_keying_material, but it hands every
/// connection's secrets to a key-log callback (the SSLKEYLOGFILE lines); this keeps only the `EXPORTER_SECRET` lines,
/// drops every traffic secret at once, and never logs anything. The session takes its entry (`take`) once its
/// handshake is done; entries nobody takes go after `lifetime`, and there are never more than `maxEntries`.
public final class TLSExporterSecrets: Sendable {
    /// Handshakes remembered at once; past it the oldest entry goes.
    public static let maxEntries = 4096
    /// How long an entry waits for its session.
    public static let lifetime = TimeAmount.seconds(60)
    /// "EXPORTER_SECRET " + 64 hex digits + " " + at most 96 hex digits (SHA-384): longer lines are not ours.
    static let maxLineLength = 16 + 64 + 1 + 96 + 2

    private struct Entry {
        var secret: [UInt8]
        var added: NIODeadline
    }

    private let entries = NIOLockedValueBox<[[UInt8]: Entry]>([:])

    public init() {}

    /// For `TLSConfiguration.keyLogCallback`.
    public var keyLogCallback: NIOSSLKeyLogCallback {
        { [self] line in self.record(line) }
    }

    func record(_ line: ByteBuffer) {
        guard line.readableBytes <= Self.maxLineLength,
            let text = line.getString(at: line.readerIndex, length: line.readableBytes),
            let (random, secret) = Self.parse(text)
        else { return }
        let now = NIODeadline.now()
        entries.withLockedValue { entries in
            if entries.count >= Self.maxEntries {
                entries = entries.filter { now - $0.value.added < Self.lifetime }
                if entries.count >= Self.maxEntries, let oldest = entries.min(by: { $0.value.added < $1.value.added })?.key {
                    entries[oldest] = nil
                }
            }
            entries[random] = Entry(secret: secret, added: now)
        }
    }

    /// The exporter secret of the handshake with this ClientHello random, once; nil when there is none (TLS 1.2, too
    /// old, or evicted).
    public func take(clientRandom: [UInt8]) -> [UInt8]? {
        let now = NIODeadline.now()
        guard let entry = entries.withLockedValue({ $0.removeValue(forKey: clientRandom) }), now - entry.added < Self.lifetime else {
            return nil
        }
        return entry.secret
    }

    var count: Int { entries.withLockedValue { $0.count } }

    /// `EXPORTER_SECRET <client random, 32 bytes hex> <secret hex>`; nil for any other line.
    static func parse(_ text: String) -> (random: [UInt8], secret: [UInt8])? {
        let fields = text.split(separator: " ", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .newlines) }
        guard fields.count == 3, fields[0] == "EXPORTER_SECRET", let random = hex(fields[1]), random.count == 32,
            let secret = hex(fields[2]), secret.count == 32 || secret.count == 48
        else { return nil }
        return (random, secret)
    }

    static func hex(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var i = 0
        while i < digits.count {
            guard let hi = value(digits[i]), let lo = value(digits[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    private static func value(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }
}
