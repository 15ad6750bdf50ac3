import CNFS
import Foundation
import Synchronization

/// A volume on an NFSv3 export reached in user space with libnfs:
/// `nfs://server/export[?nfsport=N&mountport=M&timeout=MS]`.
/// libnfs contexts are not thread-safe, so each call checks a context out of a pool (one per concurrent caller,
/// each its own TCP connection and mount), with a per-call timeout and a bounded reconnect, and the directory
/// cache off (a new message must be visible at once). A read handle keeps its context for its lifetime.
/// "The NAS did not answer" becomes `StoreError.unavailable`.
public final class NFSVolume: Volume, @unchecked Sendable {
    public let url: String
    let server: String
    let export: String
    let nfsPort: Int?
    let mountPort: Int?
    let timeoutMilliseconds: Int32
    let base: [String]
    /// A libnfs context; used by one thread at a time (checked out of the pool).
    struct Context: @unchecked Sendable { let pointer: OpaquePointer }
    private let pool = Mutex<[Context]>([])

    /// libnfs's NFSv4 is declared not functional by its own header (4.0.0); refused.
    /// `directory`: where the mail root is inside the export (default: the export itself).
    public init(url: String, directory: String = "", timeoutMilliseconds: Int = 5000) throws {
        guard url.hasPrefix("nfs://"), let components = URLComponents(string: url), let host = components.host, !host.isEmpty else {
            throw StoreError(code: .invalidName, message: "\(url) is not an nfs://server/export URL")
        }
        var nfsPort: Int?, mountPort: Int?
        var timeout = timeoutMilliseconds
        var libnfsItems: [URLQueryItem] = []
        for item in components.queryItems ?? [] {
            switch item.name {
            case "nfsport":
                nfsPort = item.value.flatMap(Int.init)
                libnfsItems.append(item)
            case "mountport":
                mountPort = item.value.flatMap(Int.init)
                libnfsItems.append(item)
            case "timeout":
                // Poplar's own: milliseconds before a call that gets no answer fails (default 5000).
                guard let ms = item.value.flatMap(Int.init), (100...600_000).contains(ms) else {
                    throw StoreError(code: .invalidName, message: "timeout must be 100 to 600000 milliseconds")
                }
                timeout = ms
            case "version":
                guard item.value == "3" else {
                    throw StoreError(code: .invalidName, message: "NFS version \(item.value ?? "") is not supported: libnfs 4.0.0's NFSv4 is not functional; use NFSv3 (leave version out)")
                }
            default:
                throw StoreError(code: .invalidName, message: "unknown NFS URL parameter \(item.name)")
            }
        }
        var forLibnfs = components
        forLibnfs.queryItems = libnfsItems.isEmpty ? nil : libnfsItems
        self.url = forLibnfs.string ?? url
        self.server = host
        self.export = components.path.isEmpty ? "/" : components.path
        self.nfsPort = nfsPort
        self.mountPort = mountPort
        self.timeoutMilliseconds = Int32(timeout)
        self.base = directory.split(separator: "/").map(String.init)
        // Mount once now: a wrong URL or an unreachable server is reported at start, not at the first login.
        let context = try makeContext()
        checkIn(context)
    }

    deinit {
        for context in pool.withLock({ $0 }) { nfs_destroy_context(context.pointer) }
    }

    private func makeContext() throws -> OpaquePointer {
        guard let context = nfs_init_context() else { throw StoreError(code: .io, message: "libnfs: cannot create a context") }
        nfs_set_timeout(context, timeoutMilliseconds)
        nfs_set_autoreconnect(context, 3)
        nfs_set_dircache(context, 0)
        // libnfs takes nfsport= and mountport= from the URL into the context.
        guard let parsed = nfs_parse_url_dir(context, url) else {
            let text = String(cString: nfs_get_error(context))
            nfs_destroy_context(context)
            throw StoreError(code: .invalidName, message: "\(url): \(text)")
        }
        defer { nfs_destroy_url(parsed) }
        let rc = nfs_mount(context, parsed.pointee.server, parsed.pointee.path)
        if rc != 0 {
            let text = String(cString: nfs_get_error(context))
            nfs_destroy_context(context)
            throw StoreError(code: .unavailable, message: "cannot mount \(server):\(export): \(text)", errno: -rc)
        }
        return context
    }

    private func checkOut() throws -> OpaquePointer {
        if let context = pool.withLock({ $0.popLast() }) { return context.pointer }
        return try makeContext()
    }

    private func checkIn(_ context: OpaquePointer) {
        let boxed = Context(pointer: context)
        pool.withLock { $0.append(boxed) }
    }

    /// Runs one call with a context; a context whose call timed out is dropped (its connection may be wedged).
    private func with<T>(_ what: @autoclosure () -> String, _ body: (OpaquePointer) -> (Int32, T?)) throws -> T {
        let context = try checkOut()
        let (rc, value) = body(context)
        if rc < 0 {
            let error = Self.error(rc, context: context, what())
            if error.code == .unavailable { nfs_destroy_context(context) } else { checkIn(context) }
            throw error
        }
        checkIn(context)
        return value!
    }

    static func error(_ rc: Int32, context: OpaquePointer, _ what: String) -> StoreError {
        let detail = nfs_get_error(context).map { String(cString: $0) } ?? ""
        // libnfs answers -errno; a bare -1 or a timeout means the server did not answer, and -EFAULT is how its
        // callbacks report an RPC-level failure (connection lost, a reply that does not decode): unreachable too,
        // so the context is dropped rather than reused.
        let err = rc == -1 || rc == -EFAULT ? ETIMEDOUT : -rc
        var e = StoreError.posix(err, what)
        if !detail.isEmpty { e.message += " (\(detail))" }
        return e
    }

    func nfsPath(_ path: StorePath) -> String { "/" + (base + path.components).joined(separator: "/") }

    public func stat(_ path: StorePath) throws -> FileAttributes {
        try with("stat \(path)") { ctx in
            var st = nfs_stat_64()
            let rc = nfs_stat64(ctx, nfsPath(path), &st)
            return (rc, rc == 0 ? Self.attributes(st) : nil)
        }
    }

    static func attributes(_ st: nfs_stat_64) -> FileAttributes {
        let type = UInt32(st.nfs_mode) & 0o170000
        let kind: FileKind = type == 0o100000 ? .file : (type == 0o040000 ? .directory : .other)
        return FileAttributes(kind: kind, size: Int64(st.nfs_size), modifiedNanoseconds: Int64(st.nfs_mtime) * 1_000_000_000 + Int64(st.nfs_mtime_nsec), fileID: st.nfs_ino)
    }

    /// A listing of a directory that changes between its READDIRPLUS pages (entries renamed, created, removed by
    /// other hosts) can be answered NFS3ERR_STALE by nfs-ganesha, whose directory cache dropped the chunk the
    /// cookie pointed into: the listing is started again, this many times at most.
    static let maxListAttempts = 4

    /// One READDIRPLUS listing: names with sizes and times, no call per entry.
    public func list(_ directory: StorePath) throws -> [DirectoryEntry] {
        var attempt = 1
        while true {
            do {
                return try listOnce(directory)
            } catch let e as StoreError where e.errno == ESTALE && attempt < Self.maxListAttempts {
                attempt += 1
            }
        }
    }

    private func listOnce(_ directory: StorePath) throws -> [DirectoryEntry] {
        try with("list \(directory)") { ctx in
            var dir: OpaquePointer?
            let rc = nfs_opendir(ctx, nfsPath(directory), &dir)
            guard rc == 0, let dir else { return (rc, nil) }
            defer { nfs_closedir(ctx, dir) }
            var entries: [DirectoryEntry] = []
            while let e = nfs_readdir(ctx, dir) {
                let name = String(cString: e.pointee.name)
                if name == "." || name == ".." { continue }
                let kind: FileKind = e.pointee.type == 1 ? .file : (e.pointee.type == 2 ? .directory : .other)
                let mtime = Int64(e.pointee.mtime.tv_sec) * 1_000_000_000 + Int64(e.pointee.mtime_nsec)
                entries.append(DirectoryEntry(name: name, attributes: FileAttributes(kind: kind, size: Int64(e.pointee.size), modifiedNanoseconds: mtime, fileID: e.pointee.inode)))
            }
            return (0, entries)
        }
    }

    public func mkdir(_ path: StorePath) throws {
        try with("mkdir \(path)") { ctx in (nfs_mkdir(ctx, nfsPath(path)), ()) }
    }

    public func rmdir(_ path: StorePath) throws {
        try with("rmdir \(path)") { ctx in (nfs_rmdir(ctx, nfsPath(path)), ()) }
    }

    public func openForReading(_ path: StorePath) throws -> any VolumeReadHandle {
        let context = try checkOut()
        var fh: OpaquePointer?
        let rc = nfs_open(context, nfsPath(path), O_RDONLY, &fh)
        guard rc == 0, let fh else {
            let error = Self.error(rc, context: context, "open \(path)")
            checkIn(context)
            throw error
        }
        return NFSFile(volume: self, context: context, fh: fh, path: path)
    }

    public func createFile(_ path: StorePath, exclusive: Bool) throws -> any VolumeWriteHandle {
        let context = try checkOut()
        var fh: OpaquePointer?
        let flags = O_WRONLY | O_CREAT | (exclusive ? O_EXCL : O_TRUNC)
        let rc = nfs_create(context, nfsPath(path), flags, 0o640, &fh)
        guard rc == 0, let fh else {
            let error = Self.error(rc, context: context, "create \(path)")
            checkIn(context)
            throw error
        }
        return NFSFile(volume: self, context: context, fh: fh, path: path)
    }

    public func openExisting(_ path: StorePath) throws -> any VolumeWriteHandle {
        let context = try checkOut()
        var fh: OpaquePointer?
        let rc = nfs_open(context, nfsPath(path), O_WRONLY, &fh)
        guard rc == 0, let fh else {
            let error = Self.error(rc, context: context, "open \(path)")
            checkIn(context)
            throw error
        }
        return NFSFile(volume: self, context: context, fh: fh, path: path)
    }

    public func rename(_ from: StorePath, to: StorePath) throws {
        try with("rename \(from) to \(to)") { ctx in (nfs_rename(ctx, nfsPath(from), nfsPath(to)), ()) }
    }

    public func link(_ from: StorePath, to: StorePath) throws {
        try with("link \(from) to \(to)") { ctx in (nfs_link(ctx, nfsPath(from), nfsPath(to)), ()) }
    }

    public func unlink(_ path: StorePath) throws {
        try with("unlink \(path)") { ctx in (nfs_unlink(ctx, nfsPath(path)), ()) }
    }

    /// NFSv3 directory operations are synchronous on the server (RFC 1813 §3.3: CREATE, RENAME, LINK, REMOVE
    /// commit before they reply): nothing to flush.
    public func fsyncDirectory(_ path: StorePath) throws {}

    fileprivate func giveBack(_ context: OpaquePointer) { checkIn(context) }
}

/// An open NFS file, holding its own context until closed.
final class NFSFile: VolumeReadHandle, VolumeWriteHandle, @unchecked Sendable {
    private let volume: NFSVolume
    private var context: OpaquePointer?
    private var fh: OpaquePointer?
    private let path: StorePath
    private var writeOffset: UInt64 = 0

    init(volume: NFSVolume, context: OpaquePointer, fh: OpaquePointer, path: StorePath) {
        self.volume = volume
        self.context = context
        self.fh = fh
        self.path = path
    }

    deinit { finish() }

    func read(at offset: Int64, count: Int) throws -> [UInt8] {
        guard let context, let fh else { throw StoreError(code: .io, message: "read \(path): closed") }
        var buffer = [UInt8](repeating: 0, count: count)
        let n = buffer.withUnsafeMutableBytes { nfs_pread(context, fh, UInt64(offset), UInt64(count), $0.baseAddress) }
        if n < 0 { throw NFSVolume.error(n, context: context, "read \(path)") }
        buffer.removeLast(count - Int(n))
        return buffer
    }

    func write(_ bytes: [UInt8]) throws {
        guard let context, let fh else { throw StoreError(code: .io, message: "write \(path): closed") }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { nfs_pwrite(context, fh, writeOffset, UInt64(bytes.count - done), $0.baseAddress! + done) }
            if n < 0 { throw NFSVolume.error(n, context: context, "write \(path)") }
            if n == 0 { throw StoreError(code: .io, message: "write \(path): no progress") }
            done += Int(n)
            writeOffset += UInt64(n)
        }
    }

    func fsync() throws {
        guard let context, let fh else { return }
        let rc = nfs_fsync(context, fh)
        if rc < 0 { throw NFSVolume.error(rc, context: context, "fsync \(path)") }
    }

    func close() { finish() }

    private func finish() {
        if let context, let fh {
            nfs_close(context, fh)
            volume.giveBack(context)
        }
        context = nil
        fh = nil
    }
}
