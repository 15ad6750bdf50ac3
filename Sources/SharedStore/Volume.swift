/// Reads a file at offsets: exactly `count` bytes, or fewer (or none) only at the end of the file.
public protocol VolumeReadHandle: AnyObject, Sendable {
    func read(at offset: Int64, count: Int) throws -> [UInt8]
    func close()
}

public protocol VolumeWriteHandle: AnyObject, Sendable {
    /// Where the next write goes (a new handle writes from 0): an append starts at the file's size.
    func seek(to offset: Int64) throws
    func write(_ bytes: [UInt8]) throws
    func fsync() throws
    /// What a record needs that others must see but whose loss in a power cut the protocol tolerates: after
    /// `flush` and `close`, every reader of the volume sees the bytes, and an NFS server restart cannot lose them
    /// while the writer lives on. Not that the disk has them: a local file system may lose them when its machine
    /// loses power, and every process holding anything on it dies with it. Default: `fsync`.
    func flush() throws
    func close() throws
}

extension VolumeWriteHandle {
    public func flush() throws { try fsync() }
}

/// The bottom of the Mail Storage Access API. Every call blocks: callers run them on a thread pool, never on an
/// event loop. Everything above this protocol uses only it, never a local path, so a volume can be a local
/// directory, a kernel-mounted NAS path or an NFS export reached in user space.
public protocol Volume: Sendable {
    /// `notFound` if absent.
    func stat(_ path: StorePath) throws -> FileAttributes
    /// Entries except `.` and `..`, with their attributes, in one call per directory.
    func list(_ directory: StorePath) throws -> [DirectoryEntry]
    /// `alreadyExists` if present.
    func mkdir(_ path: StorePath) throws
    func rmdir(_ path: StorePath) throws
    func openForReading(_ path: StorePath) throws -> any VolumeReadHandle
    /// `exclusive`: fails with `alreadyExists` if present; otherwise truncates.
    func createFile(_ path: StorePath, exclusive: Bool) throws -> any VolumeWriteHandle
    /// Opens an existing file for writing from its start, not truncated; `notFound` if absent: never creates one.
    func openExisting(_ path: StorePath) throws -> any VolumeWriteHandle
    /// Replaces the target.
    func rename(_ from: StorePath, to: StorePath) throws
    /// `alreadyExists` if the target exists: never replaces.
    func link(_ from: StorePath, to: StorePath) throws
    func unlink(_ path: StorePath) throws
    func fsyncDirectory(_ path: StorePath) throws
}

extension Volume {
    public func exists(_ path: StorePath) throws -> Bool {
        do {
            _ = try stat(path)
            return true
        } catch let error as StoreError where error.code == .notFound {
            return false
        }
    }

    /// A rename whose outcome is checked after an error: if the source is gone and the target is there, it
    /// happened and only its reply was lost (on NFS a retransmitted RENAME answers ENOENT, RFC 1813 §4.5).
    /// Only for names no other process renames at the same time (private names, staging files).
    public func renameChecked(_ from: StorePath, to: StorePath) throws {
        do {
            try rename(from, to: to)
        } catch {
            guard try !exists(from), try exists(to) else { throw error }
        }
    }

    /// An unlink whose outcome is checked after an error: a file that is gone is what was asked for.
    public func unlinkChecked(_ path: StorePath) throws {
        do {
            try unlink(path)
        } catch let error as StoreError where error.code == .notFound {
        } catch {
            if try exists(path) { throw error }
        }
    }

    /// The whole file, refused with `tooLarge` past `limit` bytes.
    public func readAll(_ path: StorePath, limit: Int) throws -> [UInt8] {
        let handle = try openForReading(path)
        defer { handle.close() }
        var out: [UInt8] = []
        while true {
            let want = min(64 * 1024, limit + 1 - out.count)
            let chunk = try handle.read(at: Int64(out.count), count: want)
            out += chunk
            if out.count > limit {
                throw StoreError(code: .tooLarge, message: "\(path) is larger than \(limit) bytes")
            }
            // Fewer bytes than asked for is the end of the file: both volumes read until the count or the end.
            if chunk.count < want { return out }
        }
    }

    /// Writes a whole file, durably (fsync) unless `durable` is false.
    /// `durable: false` flushes instead of syncing (`VolumeWriteHandle.flush`): for a lock's owner record, whose
    /// loss in a power cut leaves a record judged stale after a lease (docs/lock-protocol.md, T2).
    public func writeFile(_ path: StorePath, _ bytes: [UInt8], exclusive: Bool, durable: Bool = true) throws {
        let handle = try createFile(path, exclusive: exclusive)
        do {
            if !bytes.isEmpty { try handle.write(bytes) }
            if durable { try handle.fsync() } else { try handle.flush() }
            try handle.close()
        } catch {
            try? handle.close()
            throw error
        }
    }

    /// Rewrites an existing file in place from its start, durably, never truncating it (so a reader never sees it
    /// empty); the new bytes must be at least as long as the old. `notFound` if it is absent (the heartbeat, H2).
    public func overwriteExisting(_ path: StorePath, _ bytes: [UInt8]) throws {
        let handle = try openExisting(path)
        do {
            try handle.write(bytes)
            try handle.fsync()
            try handle.close()
        } catch {
            try? handle.close()
            throw error
        }
    }

    /// Replaces `path` atomically: write `staging/<unique>`, fsync, rename over `path`, fsync the directory.
    /// A reader sees the old content or the new, never a mix.
    public func writeAtomically(_ path: StorePath, _ bytes: [UInt8], staging: StorePath) throws {
        let tmp = try staging.appending("\(path.name ?? "file").\(UInt64.random(in: 0...UInt64.max))")
        do {
            try writeFile(tmp, bytes, exclusive: true)
            try renameChecked(tmp, to: path)
        } catch {
            try? unlink(tmp)
            throw error
        }
        if let parent = path.parent { try fsyncDirectory(parent) }
    }

    /// Removes a directory and everything below it.
    public func removeTree(_ path: StorePath) throws {
        for entry in try list(path) {
            let child = try path.appending(entry.name)
            if entry.attributes.kind == .directory {
                try removeTree(child)
            } else {
                do { try unlink(child) } catch let e as StoreError where e.code == .notFound {}
            }
        }
        do { try rmdir(path) } catch let e as StoreError where e.code == .notFound {}
    }
}
