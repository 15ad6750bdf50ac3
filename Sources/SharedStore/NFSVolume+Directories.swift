import CNFS
import Foundation

/// Directory handles by path (`NFSDirectoryCache`), and running a call on an entry in its directory's handle with
/// one walk from the root when the answer says the cached directory is gone.
extension NFSVolume {
    /// The handle of a directory below the mail root: from the cache, or looked up from the nearest cached
    /// ancestor (`fresh`: from the export's root, replacing what the cache held).
    func directoryHandle(_ path: StorePath, fresh: Bool = false) throws -> [UInt8] {
        let full = base + path.components
        var handle = rootHandle
        var start = 0
        if !fresh {
            if let cached = directories.nearest(full[...]) { (start, handle) = cached }
        }
        for depth in start..<full.count {
            let shown = NFSDirectoryCache.key(full[...depth])
            let found = try lookup(handle, full[depth], "lookup \(shown)")
            // A cached ancestor that was removed (and maybe made again): walk again from the root, once.
            if found.directoryGone, start > 0, !fresh { return try directoryHandle(path, fresh: true) }
            guard found.status == NFS3_OK, let (child, attributes) = found.value else {
                throw Self.failure(found.status, "lookup \(shown)")
            }
            guard attributes?.kind ?? .directory == .directory else {
                throw StoreError.posix(ENOTDIR, "\(shown) is not a directory")
            }
            handle = child
            directories.store(full[...depth], child)
        }
        return handle
    }

    /// Runs `op` on the entry `path` names, in its directory's handle. If the answer says that directory is gone,
    /// its handle is looked up again from the root and, if it changed, `op` runs once more.
    func inDirectory<T>(_ path: StorePath, _ what: @autoclosure () -> String, _ op: ([UInt8], String) throws -> Outcome<T>) throws -> T {
        guard let parent = path.parent, let name = path.name else {
            throw StoreError(code: .invalidName, message: "\(what()): the mail root itself")
        }
        let dir = try directoryHandle(parent)
        var outcome = try op(dir, name)
        if outcome.directoryGone {
            let again = try directoryHandle(parent, fresh: true)
            if again != dir { outcome = try op(again, name) }
        }
        guard outcome.status == NFS3_OK, let value = outcome.value else { throw Self.failure(outcome.status, what()) }
        return value
    }
}
