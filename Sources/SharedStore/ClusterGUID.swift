import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#endif

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

    /// A short name of this GUID, kept in the records it keys (`key=` in `passwd`): the first 16 hex digits of the
    /// check value, which tells nothing of the GUID.
    public var tag: String { String(checkValue.prefix(16)) }

    /// The GUID file's first GUID (a file of one GUID, as `poplar init` writes it).
    public static func load(fromFile path: String) throws -> ClusterGUID {
        try ClusterKeyring.load(fromFile: path).guids[0]
    }

    /// Reads the GUID file's text, refusing one that its group or others may access (`GUIDFileMode`): the mode is
    /// checked on the file opened, not on the path before.
    static func readFile(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let err = errno
            if err == ENOENT || err == ENOTDIR {
                throw StoreError(code: .notFound, message: "no cluster GUID file at \(path) (`poplar init` writes one)", errno: err)
            }
            throw StoreError.posix(err, "open the GUID file \(path)")
        }
        defer { close(fd) }
        var st = Glibc.stat()
        guard fstat(fd, &st) == 0 else { throw StoreError.posix(errno, "stat the GUID file \(path)") }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw StoreError(code: .corrupt, message: "the GUID file \(path) is not a regular file")
        }
        if let refusal = GUIDFileMode.refusal(path: path, mode: st.st_mode & 0o7777) { throw refusal }
        var bytes = [UInt8](repeating: 0, count: GUIDFileMode.maxFileSize)
        var count = 0
        while count < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StoreError.posix(errno, "read the GUID file \(path)")
            }
            if n == 0 { break }
            count += n
        }
        guard count < bytes.count else {
            throw StoreError(code: .corrupt, message: "the GUID file \(path) is larger than a GUID")
        }
        return String(decoding: bytes[..<count], as: UTF8.self)
    }

    /// Loads the GUID file (refused if its group or others may access it), or creates it (mode 0600) with a new GUID.
    public static func loadOrCreate(file path: String) throws -> (ClusterGUID, created: Bool) {
        if FileManager.default.fileExists(atPath: path) { return (try load(fromFile: path), false) }
        let guid = generate()
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        // Created with its final mode in the open itself: never a moment readable by others.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, GUIDFileMode.created)
        guard fd >= 0 else { throw StoreError.posix(errno, "create \(path)") }
        defer { close(fd) }
        let bytes = Array((guid.text + "\n").utf8)
        guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else { throw StoreError.posix(errno, "write \(path)") }
        return (guid, true)
    }
}
