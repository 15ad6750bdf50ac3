import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The GUIDs a process knows: the GUID file holds one GUID a line, usually one. While the cluster's GUID is being
/// rotated (`poplar guid rotate`, docs/security.md) it holds the old and the new one; the cluster file in the store
/// (`guid-check`, `guid-previous-check`) says which one keys new records, so every node switches together.
public struct ClusterKeyring: Sendable, Equatable {
    public static let maxGUIDs = 4
    public var guids: [ClusterGUID]

    public init(_ guids: [ClusterGUID]) {
        self.guids = guids
    }

    public func guid(tag: String) -> ClusterGUID? { guids.first { $0.tag == tag } }
    public func guid(check: String) -> ClusterGUID? { guids.first { $0.checkValue == check } }

    public init(text: String) throws {
        var guids: [ClusterGUID] = []
        for line in text.split(whereSeparator: \.isNewline) where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            guids.append(try ClusterGUID(text: String(line)))
        }
        guard !guids.isEmpty else { throw StoreError(code: .corrupt, message: "a cluster GUID is 32 to 128 hexadecimal digits") }
        guard guids.count <= Self.maxGUIDs else { throw StoreError(code: .corrupt, message: "more than \(Self.maxGUIDs) GUIDs in one file") }
        self.guids = guids
    }

    /// The GUID file (mode checked as for one GUID).
    public static func load(fromFile path: String) throws -> ClusterKeyring {
        let text = try ClusterGUID.readFile(path)
        do {
            return try ClusterKeyring(text: text)
        } catch let error as StoreError {
            throw StoreError(code: .corrupt, message: "\(path): \(error.message)")
        }
    }

    /// Replaces the GUID file: a new file made 0600 in the open itself, written, synced, renamed over the old one.
    public func write(toFile path: String) throws {
        let tmp = path + ".new.\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, GUIDFileMode.created)
        guard fd >= 0 else { throw StoreError.posix(errno, "create \(tmp)") }
        let bytes = Array(guids.map { $0.text + "\n" }.joined().utf8)
        guard Glibc.write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
            let err = errno
            close(fd)
            unlink(tmp)
            throw StoreError.posix(err, "write \(tmp)")
        }
        close(fd)
        guard rename(tmp, path) == 0 else {
            let err = errno
            unlink(tmp)
            throw StoreError.posix(err, "replace \(path)")
        }
    }
}
