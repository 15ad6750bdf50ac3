import Crypto
import Foundation

/// The secret every node and coordinator of a cluster shares (the seed's "same GUID on each mail server"). It
/// keys the password records; it lives in a local file, never in the store, which keeps only a check value.
public struct ClusterGUID: Sendable, Equatable {
    public let bytes: [UInt8]

    public static let checkLabel = "poplar guid check v1"

    public static func generate() -> ClusterGUID {
        var rng = SystemRandomNumberGenerator()
        return ClusterGUID(uncheckedBytes: (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }

    private init(uncheckedBytes: [UInt8]) { self.bytes = uncheckedBytes }

    public init(text: String) throws {
        let hex = text.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        guard (32...128).contains(hex.count), hex.count % 2 == 0,
            hex.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
        else {
            throw StoreError(code: .corrupt, message: "a cluster GUID is 32 to 128 hexadecimal digits")
        }
        var out: [UInt8] = []
        var it = hex.utf8.makeIterator()
        while let hi = it.next(), let lo = it.next() {
            out.append(Self.nibble(hi) << 4 | Self.nibble(lo))
        }
        self.bytes = out
    }

    private static func nibble(_ c: UInt8) -> UInt8 { c <= 0x39 ? c - 0x30 : c - 0x61 + 10 }

    public var text: String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// HMAC-SHA256(GUID, label): stored in the root so a wrong GUID is refused at start.
    public var checkValue: String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array(Self.checkLabel.utf8), using: SymmetricKey(data: bytes))
        return mac.map { String(format: "%02x", $0) }.joined()
    }

    var key: SymmetricKey { SymmetricKey(data: bytes) }

    public static func load(fromFile path: String) throws -> ClusterGUID {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StoreError(code: .notFound, message: "no cluster GUID file at \(path) (`poplar init` writes one)")
        }
        do {
            return try ClusterGUID(text: String(decoding: data, as: UTF8.self))
        } catch let error as StoreError {
            throw StoreError(code: .corrupt, message: "\(path): \(error.message)")
        }
    }

    /// Loads the GUID file, or creates it (mode 0600) with a new GUID.
    public static func loadOrCreate(file path: String) throws -> (ClusterGUID, created: Bool) {
        if FileManager.default.fileExists(atPath: path) { return (try load(fromFile: path), false) }
        let guid = generate()
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StoreError.posix(errno, "create \(path)") }
        defer { close(fd) }
        let bytes = Array((guid.text + "\n").utf8)
        guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else { throw StoreError.posix(errno, "write \(path)") }
        return (guid, true)
    }
}
