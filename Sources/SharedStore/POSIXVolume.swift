#if canImport(Glibc)
import Glibc
#endif

/// A volume on a local directory or a kernel-mounted NAS path. All calls are relative to a descriptor of the
/// root opened once (`openat`, `renameat`, …), with O_NOFOLLOW and O_CLOEXEC; EINTR is retried.
public final class POSIXVolume: Volume {
    private let rootFD: Int32
    public let rootPath: String

    public init(rootPath: String) throws {
        let fd = open(rootPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            let err = errno
            if err == ENOENT || err == ENOTDIR {
                throw StoreError(code: .notFound, message: "the mail root \(rootPath) is not an existing directory", errno: err)
            }
            throw StoreError.posix(err, "cannot open the mail root \(rootPath)")
        }
        self.rootFD = fd
        self.rootPath = rootPath
    }

    deinit { Glibc.close(rootFD) }

    private func rel(_ path: StorePath) -> String {
        path.components.isEmpty ? "." : path.components.joined(separator: "/")
    }

    @discardableResult
    private func retrying(_ what: @autoclosure () -> String, _ call: () -> Int32) throws -> Int32 {
        while true {
            let rc = call()
            if rc >= 0 { return rc }
            if errno == EINTR { continue }
            throw StoreError.posix(errno, what())
        }
    }

    public func stat(_ path: StorePath) throws -> FileAttributes {
        var st = Glibc.stat()
        try retrying("stat \(path)") { fstatat(rootFD, rel(path), &st, AT_SYMLINK_NOFOLLOW) }
        return Self.attributes(st)
    }

    public func list(_ directory: StorePath) throws -> [DirectoryEntry] {
        let fd = try retrying("open \(directory)") { openat(rootFD, rel(directory), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW) }
        guard let dir = fdopendir(fd) else {
            let err = errno
            Glibc.close(fd)
            throw StoreError.posix(err, "list \(directory)")
        }
        defer { closedir(dir) }
        var entries: [DirectoryEntry] = []
        errno = 0
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            var st = Glibc.stat()
            if fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 {
                if errno == ENOENT { continue }  // removed while listing
                throw StoreError.posix(errno, "stat \(directory)/\(name)")
            }
            entries.append(DirectoryEntry(name: name, attributes: Self.attributes(st)))
        }
        return entries
    }

    public func mkdir(_ path: StorePath) throws {
        try retrying("mkdir \(path)") { mkdirat(rootFD, rel(path), 0o750) }
    }

    public func rmdir(_ path: StorePath) throws {
        try retrying("rmdir \(path)") { unlinkat(rootFD, rel(path), AT_REMOVEDIR) }
    }

    public func openForReading(_ path: StorePath) throws -> any VolumeReadHandle {
        let fd = try retrying("open \(path)") { openat(rootFD, rel(path), O_RDONLY | O_CLOEXEC | O_NOFOLLOW) }
        return POSIXReadFile(fd: fd, path: path)
    }

    public func createFile(_ path: StorePath, exclusive: Bool) throws -> any VolumeWriteHandle {
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (exclusive ? O_EXCL : O_TRUNC)
        let fd = try retrying("create \(path)") { openat(rootFD, rel(path), flags, 0o640) }
        return POSIXWriteFile(fd: fd, path: path)
    }

    public func openExisting(_ path: StorePath) throws -> any VolumeWriteHandle {
        let fd = try retrying("open \(path)") { openat(rootFD, rel(path), O_WRONLY | O_CLOEXEC | O_NOFOLLOW) }
        return POSIXWriteFile(fd: fd, path: path)
    }

    public func rename(_ from: StorePath, to: StorePath) throws {
        try retrying("rename \(from) to \(to)") { renameat(rootFD, rel(from), rootFD, rel(to)) }
    }

    public func link(_ from: StorePath, to: StorePath) throws {
        try retrying("link \(from) to \(to)") { linkat(rootFD, rel(from), rootFD, rel(to), 0) }
    }

    public func unlink(_ path: StorePath) throws {
        try retrying("unlink \(path)") { unlinkat(rootFD, rel(path), 0) }
    }

    public func fsyncDirectory(_ path: StorePath) throws {
        let fd = try retrying("open \(path)") { openat(rootFD, rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { Glibc.close(fd) }
        try retrying("fsync \(path)") { Glibc.fsync(fd) }
    }

    static func attributes(_ st: Glibc.stat) -> FileAttributes {
        let mode = st.st_mode & S_IFMT
        let kind: FileKind = mode == S_IFREG ? .file : (mode == S_IFDIR ? .directory : .other)
        return FileAttributes(
            kind: kind,
            size: Int64(st.st_size),
            modifiedNanoseconds: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec),
            fileID: UInt64(st.st_ino)
        )
    }
}

/// A file of a `POSIXVolume` opened for reading.
// @unchecked Sendable: a handle is used by one thread at a time (each read starts after the previous completed); its fd is closed once.
final class POSIXReadFile: VolumeReadHandle, @unchecked Sendable {
    private var fd: Int32
    private let path: StorePath

    init(fd: Int32, path: StorePath) {
        self.fd = fd
        self.path = path
    }

    deinit { close() }

    func read(at offset: Int64, count: Int) throws -> [UInt8] {
        var out = try readOnce(at: offset, count: count)
        // A short pread is not yet the end of the file (a signal, a kernel NFS mount): read on until count or 0.
        while !out.isEmpty, out.count < count {
            let more = try readOnce(at: offset + Int64(out.count), count: count - out.count)
            if more.isEmpty { break }
            out += more
        }
        return out
    }

    private func readOnce(at offset: Int64, count: Int) throws -> [UInt8] {
        guard count > 0 else { return [] }
        while true {
            var failure: Int32 = 0
            // Read straight into the array's storage: no zero-filling of a buffer the read overwrites.
            let buffer = [UInt8](unsafeUninitializedCapacity: count) { storage, initialized in
                let n = pread(fd, storage.baseAddress, count, off_t(offset))
                if n < 0 { failure = errno; initialized = 0 } else { initialized = n }
            }
            if failure == 0 { return buffer }
            if failure == EINTR { continue }
            throw StoreError.posix(failure, "read \(path)")
        }
    }

    func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }
}

/// A file of a `POSIXVolume` opened for writing.
// @unchecked Sendable: a handle is written by one thread at a time, then closed once.
final class POSIXWriteFile: VolumeWriteHandle, @unchecked Sendable {
    private var fd: Int32
    private let path: StorePath

    init(fd: Int32, path: StorePath) {
        self.fd = fd
        self.path = path
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    func seek(to offset: Int64) throws {
        if lseek(fd, off_t(offset), SEEK_SET) < 0 { throw StoreError.posix(errno, "seek \(path)") }
    }

    func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StoreError.posix(errno, "write \(path)")
            }
            offset += n
        }
    }

    func fsync() throws {
        while Glibc.fsync(fd) != 0 {
            if errno == EINTR { continue }
            throw StoreError.posix(errno, "fsync \(path)")
        }
    }

    /// Nothing before `close`: a local file system shows the bytes to every reader at once, and a kernel NFS mount
    /// writes and commits them at close (close-to-open) and resends them itself if the server restarted.
    func flush() throws {}

    func close() throws {
        let f = fd
        fd = -1
        // close() reports write-back errors of NFS and the like: they matter.
        if f >= 0 && Glibc.close(f) != 0 && errno != EINTR {
            throw StoreError.posix(errno, "close \(path)")
        }
    }
}
