import CNFS
import Foundation
import Synchronization

/// A volume on an NFSv3 export reached in user space with libnfs:
/// `nfs://server/export[?nfsport=N&mountport=M&timeout=MS]`.
///
/// libnfs mounts the export (its synchronous API); every call after that is one NFSv3 RPC on file handles through
/// libnfs's raw API, so a call on a file in a known directory costs one round trip, not a LOOKUP per path component.
/// Directory handles are cached by path. A cached handle is checked by what the server answers: a directory that
/// was removed (answered STALE, or "no such entry" with the directory's link count at 0) is looked up again from
/// the root, once. Poplar never renames a directory, so a directory's path and its handle stay paired. File handles
/// are never cached by name: lock files and password records change inode under the same name.
///
/// libnfs contexts are not thread-safe, so each call checks a context out of a pool (one per concurrent caller,
/// each its own TCP connection and mount), with a per-call timeout and a bounded reconnect. "The NAS did not
/// answer" becomes `StoreError.unavailable`, and that context is dropped.
// @unchecked Sendable: its `var`s (root handle, transfer sizes) are set once while mounting in init; the context pool and the
// directory cache are behind mutexes; a libnfs context is used by one thread at a time.
public final class NFSVolume: Volume, @unchecked Sendable {
    public let url: String
    let server: String
    let export: String
    let nfsPort: Int?
    let mountPort: Int?
    let timeoutMilliseconds: Int32
    let base: [String]
    /// A libnfs context; used by one thread at a time (checked out of the pool).
    // @unchecked Sendable: a context is checked out of the pool by one thread at a time and never shared while out.
    struct Context: @unchecked Sendable { let pointer: OpaquePointer }
    private let pool = Mutex<[Context]>([])
    /// Set once, in init.
    private(set) var rootHandle: [UInt8] = []
    /// Directory handles by path below the export ("base/…/dir").
    private let directories = Mutex<[String: [UInt8]]>([:])
    /// Bytes per READ and per WRITE: what the server offers (FSINFO at mount), at most `maxTransfer`.
    private(set) var readMax = 64 << 10
    private(set) var writeMax = 64 << 10

    /// NFSv3 file handles are at most 64 bytes (RFC 1813 §2.4).
    static let maxHandleSize: Int32 = 64
    static let maxTransfer = 1 << 20
    /// Cached directory handles; past this the cache starts again empty (a few per mailbox in use).
    static let maxCachedDirectories = 16_384
    /// READDIRPLUS reply size: large pages, so a 10,000-message listing takes a few round trips.
    static let readdirMaxCount: UInt32 = 1 << 20
    static let readdirDirCount: UInt32 = 256 << 10
    /// A write this small at the start of a file goes FILE_SYNC: durable in one call, no COMMIT (records, intents).
    static let stableWriteLimit = 64 << 10

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
        let root = poplar_nfs_rootfh(context)
        guard root.len > 0, root.len <= Self.maxHandleSize, let val = root.val else {
            nfs_destroy_context(context)
            throw StoreError(code: .io, message: "libnfs: no root file handle after mounting \(server):\(export)")
        }
        self.rootHandle = Array(UnsafeRawBufferPointer(start: val, count: Int(root.len)))
        self.readMax = Int(min(max(nfs_get_readmax(context), 4096), UInt64(Self.maxTransfer)))
        self.writeMax = Int(min(max(nfs_get_writemax(context), 4096), UInt64(Self.maxTransfer)))
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

    // MARK: One RPC

    /// Where a call's callback leaves its outcome; `decode` copies what it needs while the reply is valid.
    final class Call {
        var finished = false
        var rpcStatus: Int32 = 0
        var rpcError = ""
        let decode: (UnsafeMutableRawPointer) -> Void
        init(decode: @escaping (UnsafeMutableRawPointer) -> Void) { self.decode = decode }

        static func done(_ status: Int32, _ data: UnsafeMutableRawPointer?, _ box: UnsafeMutableRawPointer?) {
            guard let box else { return }
            let call = Unmanaged<Call>.fromOpaque(box).takeUnretainedValue()
            call.finished = true
            call.rpcStatus = status
            if status == RPC_STATUS_SUCCESS, let data {
                call.decode(data)
            } else if status == RPC_STATUS_ERROR, let data {
                call.rpcError = String(cString: data.assumingMemoryBound(to: CChar.self))
            } else if status == RPC_STATUS_TIMEOUT {
                call.rpcError = "no answer in time"
            }
        }
    }

    typealias Issue = (_ rpc: OpaquePointer, _ callback: rpc_cb, _ box: UnsafeMutableRawPointer) -> Int32

    /// One NFSv3 call, run to its reply on a context of the pool: issue, then poll and service the context until
    /// the callback has run. An RPC that fails (no answer within the timeout, the connection lost past the
    /// reconnects) drops the context and throws `unavailable`; an NFS error status is `decode`'s to read.
    func call(_ what: @autoclosure () -> String, issue: Issue, decode: @escaping (UnsafeMutableRawPointer) -> Void) throws {
        let context = try checkOut()
        let call = Call(decode: decode)
        let failure: String? = withExtendedLifetime(call) {
            guard let rpc = nfs_get_rpc_context(context) else { return "no RPC context" }
            let box = Unmanaged.passUnretained(call).toOpaque()
            if issue(rpc, { _, status, data, box in NFSVolume.Call.done(status, data, box) }, box) != 0 {
                return rpc_get_error(rpc).map { String(cString: $0) } ?? "cannot queue the call"
            }
            // libnfs times a call out itself (nfs_set_timeout) when serviced; this is the backstop.
            let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(timeoutMilliseconds) * 2_000_000 + 1_000_000_000
            while !call.finished {
                var pfd = pollfd(fd: rpc_get_fd(rpc), events: Int16(truncatingIfNeeded: rpc_which_events(rpc)), revents: 0)
                let n = poll(&pfd, 1, 100)
                if n < 0 && errno != EINTR { return "poll: \(String(cString: strerror(errno)))" }
                if rpc_service(rpc, n > 0 ? Int32(pfd.revents) : 0) < 0 {
                    return rpc_get_error(rpc).map { String(cString: $0) } ?? "connection lost"
                }
                if !call.finished && DispatchTime.now().uptimeNanoseconds > deadline { return "no answer in time" }
            }
            return call.rpcStatus == RPC_STATUS_SUCCESS ? nil : (call.rpcError.isEmpty ? "call failed" : call.rpcError)
        }
        if let failure {
            // The connection may be wedged, and a call still queued on it is cancelled here, while `call` lives.
            withExtendedLifetime(call) { nfs_destroy_context(context) }
            throw StoreError(code: .unavailable, message: "\(what()): the NFS server did not answer (\(failure))", errno: ETIMEDOUT)
        }
        checkIn(context)
    }

    /// What one call on a name in a directory came back with.
    struct Outcome<T> {
        var status = NFS3_OK
        var value: T?
        /// The directory's attributes after a failed call show it still linked (nlink > 0).
        var directoryLinked = true
        var directoryGone: Bool { NFSVolume.directoryGone(status, linked: directoryLinked) }
    }

    /// The directory a call named is gone: its handle is stale, or an entry is missing from an unlinked one.
    static func directoryGone(_ status: nfsstat3, linked: Bool) -> Bool {
        status == NFS3ERR_STALE || (status == NFS3ERR_NOENT && !linked)
    }

    static func failure(_ status: nfsstat3, _ what: String) -> StoreError {
        let err = abs(nfsstat3_to_errno(Int32(bitPattern: status.rawValue)))
        return StoreError.posix(err == 0 ? EIO : err, what)
    }

    // MARK: Handles

    static func bytes(_ fh: nfs_fh3) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: fh.data.data_val, count: Int(fh.data.data_len)))
    }

    static func withHandle<R>(_ handle: [UInt8], _ body: (nfs_fh3) throws -> R) rethrows -> R {
        try handle.withUnsafeBufferPointer { buffer in
            var fh = nfs_fh3()
            fh.data.data_len = UInt32(buffer.count)
            fh.data.data_val = UnsafeMutableRawPointer(mutating: buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            return try body(fh)
        }
    }

    static func withDirop<R>(_ dir: [UInt8], _ name: String, _ body: (diropargs3) throws -> R) rethrows -> R {
        try withHandle(dir) { fh in
            try name.withCString { cName in
                try body(diropargs3(dir: fh, name: UnsafeMutablePointer(mutating: cName)))
            }
        }
    }

    static func linked(_ attributes: post_op_attr) -> Bool {
        attributes.attributes_follow != 0 && attributes.post_op_attr_u.attributes.nlink > 0
    }

    static func attributes(_ a: fattr3) -> FileAttributes {
        let kind: FileKind = a.type == NF3REG ? .file : (a.type == NF3DIR ? .directory : .other)
        return FileAttributes(kind: kind, size: Int64(a.size), modifiedNanoseconds: Int64(a.mtime.seconds) * 1_000_000_000 + Int64(a.mtime.nseconds), fileID: a.fileid)
    }

    private func key(_ components: ArraySlice<String>) -> String { components.joined(separator: "/") }

    /// The handle of a directory below the mail root: from the cache, or looked up from the nearest cached
    /// ancestor (`fresh`: from the export's root, replacing what the cache held).
    func directoryHandle(_ path: StorePath, fresh: Bool = false) throws -> [UInt8] {
        let full = base + path.components
        var handle = rootHandle
        var start = 0
        if !fresh {
            let cached = directories.withLock { cache -> (Int, [UInt8])? in
                for depth in stride(from: full.count, to: 0, by: -1) {
                    if let h = cache[key(full[..<depth])] { return (depth, h) }
                }
                return nil
            }
            if let cached { (start, handle) = cached }
        }
        for depth in start..<full.count {
            let shown = key(full[...depth])
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
            let entry = key(full[...depth])
            directories.withLock { cache in
                if cache.count >= Self.maxCachedDirectories { cache.removeAll(keepingCapacity: true) }
                cache[entry] = child
            }
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

    // MARK: NFSv3 procedures

    func lookup(_ dir: [UInt8], _ name: String, _ what: @autoclosure () -> String) throws -> Outcome<([UInt8], FileAttributes?)> {
        var out = Outcome<([UInt8], FileAttributes?)>()
        try call(what(), issue: { rpc, cb, box in
            Self.withDirop(dir, name) { what in
                var args = LOOKUP3args(what: what)
                return rpc_nfs3_lookup_async(rpc, cb, &args, box)
            }
        }, decode: { data in
            let res = data.assumingMemoryBound(to: LOOKUP3res.self).pointee
            out.status = res.status
            if res.status == NFS3_OK {
                let ok = res.LOOKUP3res_u.resok
                let attrs = ok.obj_attributes.attributes_follow != 0 ? Self.attributes(ok.obj_attributes.post_op_attr_u.attributes) : nil
                out.value = (Self.bytes(ok.object), attrs)
            } else {
                out.directoryLinked = Self.linked(res.LOOKUP3res_u.resfail.dir_attributes)
            }
        })
        return out
    }

    func getattr(_ handle: [UInt8], _ what: @autoclosure () -> String) throws -> FileAttributes {
        var out = Outcome<FileAttributes>()
        try call(what(), issue: { rpc, cb, box in
            Self.withHandle(handle) { fh in
                var args = GETATTR3args(object: fh)
                return rpc_nfs3_getattr_async(rpc, cb, &args, box)
            }
        }, decode: { data in
            let res = data.assumingMemoryBound(to: GETATTR3res.self).pointee
            out.status = res.status
            if res.status == NFS3_OK { out.value = Self.attributes(res.GETATTR3res_u.resok.obj_attributes) }
        })
        guard out.status == NFS3_OK, let value = out.value else { throw Self.failure(out.status, what()) }
        return value
    }

    /// The handle and attributes of a file (one LOOKUP in its directory's handle).
    func lookupEntry(_ path: StorePath, _ what: @autoclosure () -> String) throws -> ([UInt8], FileAttributes) {
        try inDirectory(path, what()) { dir, name in
            var found = try lookup(dir, name, what())
            if let (handle, attributes) = found.value, attributes == nil {
                found.value = (handle, try getattr(handle, what()))
            }
            return Outcome(status: found.status, value: found.value.map { ($0.0, $0.1!) }, directoryLinked: found.directoryLinked)
        }
    }

    public func stat(_ path: StorePath) throws -> FileAttributes {
        if path.components.isEmpty { return try getattr(try directoryHandle(.root), "stat /") }
        return try lookupEntry(path, "stat \(path)").1
    }

    /// A listing of a directory that changes between its READDIRPLUS pages (entries renamed, created, removed by
    /// other hosts) can be answered NFS3ERR_STALE or BAD_COOKIE by nfs-ganesha, whose directory cache dropped the
    /// chunk the cookie pointed into: the listing is started again, this many times at most.
    static let maxListAttempts = 4

    /// READDIRPLUS: names with sizes and times, no call per entry, in pages of up to `readdirMaxCount` bytes.
    public func list(_ directory: StorePath) throws -> [DirectoryEntry] {
        var handle = try directoryHandle(directory)
        var attempt = 1
        while true {
            let page = try listOnce(handle, directory)
            switch page {
            case .entries(let entries):
                return entries
            case .failed(let status, let linked):
                let gone = Self.directoryGone(status, linked: linked)
                if gone || status == NFS3ERR_BAD_COOKIE, attempt < Self.maxListAttempts {
                    attempt += 1
                    if gone { handle = try directoryHandle(directory, fresh: true) }
                    continue
                }
                throw Self.failure(status, "list \(directory)")
            }
        }
    }

    enum Listing {
        case entries([DirectoryEntry])
        case failed(nfsstat3, linked: Bool)
    }

    private func listOnce(_ handle: [UInt8], _ directory: StorePath) throws -> Listing {
        var entries: [DirectoryEntry] = []
        var cookie: UInt64 = 0
        var verifier = READDIRPLUS3args().cookieverf
        while true {
            var status = NFS3_OK
            var linked = true
            var eof = false
            var lastCookie = cookie
            try call("list \(directory)", issue: { rpc, cb, box in
                Self.withHandle(handle) { fh in
                    var args = READDIRPLUS3args(dir: fh, cookie: cookie, cookieverf: verifier, dircount: Self.readdirDirCount, maxcount: Self.readdirMaxCount)
                    return rpc_nfs3_readdirplus_async(rpc, cb, &args, box)
                }
            }, decode: { data in
                let res = data.assumingMemoryBound(to: READDIRPLUS3res.self).pointee
                status = res.status
                guard res.status == NFS3_OK else {
                    linked = Self.linked(res.READDIRPLUS3res_u.resfail.dir_attributes)
                    return
                }
                let ok = res.READDIRPLUS3res_u.resok
                verifier = ok.cookieverf
                eof = ok.reply.eof != 0
                var next = ok.reply.entries
                while let e = next {
                    let entry = e.pointee
                    lastCookie = entry.cookie
                    next = entry.nextentry
                    guard let cName = entry.name else { continue }
                    let name = String(cString: cName)
                    if name == "." || name == ".." { continue }
                    let attributes = entry.name_attributes.attributes_follow != 0
                        ? Self.attributes(entry.name_attributes.post_op_attr_u.attributes)
                        : FileAttributes(kind: .other, size: 0, modifiedNanoseconds: 0, fileID: entry.fileid)
                    entries.append(DirectoryEntry(name: name, attributes: attributes))
                }
            })
            guard status == NFS3_OK else { return .failed(status, linked: linked) }
            if eof { return .entries(entries) }
            guard lastCookie != cookie else {
                throw StoreError(code: .io, message: "list \(directory): the server's listing made no progress")
            }
            cookie = lastCookie
        }
    }

    /// One call on a name in a directory whose reply is only its status (and, on failure, the directory's
    /// attributes after it): MKDIR, RMDIR, REMOVE. `issue` queues it with the directory and name; `reply` reads the
    /// status and the failure's post-operation directory attributes.
    private func nameCall(_ path: StorePath, _ what: @autoclosure () -> String,
                          issue: @escaping (_ rpc: OpaquePointer, _ callback: rpc_cb, _ box: UnsafeMutableRawPointer, _ entry: diropargs3) -> Int32,
                          reply: @escaping (UnsafeMutableRawPointer) -> (nfsstat3, post_op_attr)) throws {
        let description = what()
        try inDirectory(path, description) { dir, name in
            var out = Outcome<Void>()
            try call(description, issue: { rpc, cb, box in
                Self.withDirop(dir, name) { entry in issue(rpc, cb, box, entry) }
            }, decode: { data in
                let (status, after) = reply(data)
                out.status = status
                if status == NFS3_OK { out.value = () } else { out.directoryLinked = Self.linked(after) }
            })
            return out
        }
    }

    public func mkdir(_ path: StorePath) throws {
        var attributes = sattr3()
        attributes.mode.set_it = 1
        attributes.mode.set_mode3_u.mode = 0o750
        try nameCall(path, "mkdir \(path)", issue: { rpc, cb, box, entry in
            var args = MKDIR3args(where: entry, attributes: attributes)
            return rpc_nfs3_mkdir_async(rpc, cb, &args, box)
        }, reply: { data in
            let res = data.assumingMemoryBound(to: MKDIR3res.self).pointee
            return (res.status, res.MKDIR3res_u.resfail.dir_wcc.after)
        })
    }

    public func rmdir(_ path: StorePath) throws {
        try nameCall(path, "rmdir \(path)", issue: { rpc, cb, box, entry in
            var args = RMDIR3args(object: entry)
            return rpc_nfs3_rmdir_async(rpc, cb, &args, box)
        }, reply: { data in
            let res = data.assumingMemoryBound(to: RMDIR3res.self).pointee
            return (res.status, res.RMDIR3res_u.resfail.dir_wcc.after)
        })
        let key = key((base + path.components)[...])
        directories.withLock { cache in cache = cache.filter { $0.key != key && !$0.key.hasPrefix(key + "/") } }
    }

    public func openForReading(_ path: StorePath) throws -> any VolumeReadHandle {
        let (handle, attributes) = try lookupEntry(path, "open \(path)")
        guard attributes.kind != .directory else { throw StoreError.posix(EISDIR, "open \(path)") }
        return NFSFile(volume: self, handle: handle, path: path)
    }

    /// CREATE: GUARDED when `exclusive` (EEXIST if present), else UNCHECKED with size 0 (truncates an existing one).
    public func createFile(_ path: StorePath, exclusive: Bool) throws -> any VolumeWriteHandle {
        var how = createhow3()
        how.mode = exclusive ? GUARDED : UNCHECKED
        var attributes = sattr3()
        attributes.mode.set_it = 1
        attributes.mode.set_mode3_u.mode = 0o640
        if !exclusive {
            attributes.size.set_it = 1
            attributes.size.set_size3_u.size = 0
        }
        how.createhow3_u.obj_attributes = attributes
        let handle: [UInt8]? = try inDirectory(path, "create \(path)") { dir, name in
            var out = Outcome<[UInt8]?>()
            try call("create \(path)", issue: { rpc, cb, box in
                Self.withDirop(dir, name) { where_ in
                    var args = CREATE3args(where: where_, how: how)
                    return rpc_nfs3_create_async(rpc, cb, &args, box)
                }
            }, decode: { data in
                let res = data.assumingMemoryBound(to: CREATE3res.self).pointee
                out.status = res.status
                if res.status == NFS3_OK {
                    let ok = res.CREATE3res_u.resok
                    out.value = ok.obj.handle_follows != 0 ? Self.bytes(ok.obj.post_op_fh3_u.handle) : nil
                } else {
                    out.directoryLinked = Self.linked(res.CREATE3res_u.resfail.dir_wcc.after)
                }
            })
            return out
        }
        // A server may leave the new file's handle out of its reply (RFC 1813 §3.3.8): look it up.
        let fh = try handle ?? lookupEntry(path, "create \(path)").0
        return NFSFile(volume: self, handle: fh, path: path)
    }

    public func openExisting(_ path: StorePath) throws -> any VolumeWriteHandle {
        let (handle, attributes) = try lookupEntry(path, "open \(path)")
        guard attributes.kind == .file else { throw StoreError.posix(EISDIR, "open \(path)") }
        return NFSFile(volume: self, handle: handle, path: path)
    }

    public func rename(_ from: StorePath, to: StorePath) throws {
        guard let fromParent = from.parent, let fromName = from.name, let toParent = to.parent, let toName = to.name else {
            throw StoreError(code: .invalidName, message: "rename \(from) to \(to): the mail root itself")
        }
        func attempt(fresh: Bool) throws -> Outcome<Void> {
            let fromDir = try directoryHandle(fromParent, fresh: fresh)
            let toDir = fromParent == toParent ? fromDir : try directoryHandle(toParent, fresh: fresh)
            var out = Outcome<Void>()
            try call("rename \(from) to \(to)", issue: { rpc, cb, box in
                Self.withDirop(fromDir, fromName) { f in
                    Self.withDirop(toDir, toName) { t in
                        var args = RENAME3args(from: f, to: t)
                        return rpc_nfs3_rename_async(rpc, cb, &args, box)
                    }
                }
            }, decode: { data in
                let res = data.assumingMemoryBound(to: RENAME3res.self).pointee
                out.status = res.status
                if res.status == NFS3_OK {
                    out.value = ()
                } else {
                    let fail = res.RENAME3res_u.resfail
                    out.directoryLinked = Self.linked(fail.fromdir_wcc.after) && Self.linked(fail.todir_wcc.after)
                }
            })
            return out
        }
        var outcome = try attempt(fresh: false)
        if outcome.directoryGone { outcome = try attempt(fresh: true) }
        guard outcome.status == NFS3_OK else { throw Self.failure(outcome.status, "rename \(from) to \(to)") }
    }

    public func link(_ from: StorePath, to: StorePath) throws {
        let (file, _) = try lookupEntry(from, "link \(from) to \(to)")
        try inDirectory(to, "link \(from) to \(to)") { dir, name in
            var out = Outcome<Void>()
            try call("link \(from) to \(to)", issue: { rpc, cb, box in
                Self.withHandle(file) { fh in
                    Self.withDirop(dir, name) { where_ in
                        var args = LINK3args(file: fh, link: where_)
                        return rpc_nfs3_link_async(rpc, cb, &args, box)
                    }
                }
            }, decode: { data in
                let res = data.assumingMemoryBound(to: LINK3res.self).pointee
                out.status = res.status
                if res.status == NFS3_OK { out.value = () } else { out.directoryLinked = Self.linked(res.LINK3res_u.resfail.linkdir_wcc.after) }
            })
            return out
        }
    }

    public func unlink(_ path: StorePath) throws {
        try nameCall(path, "unlink \(path)", issue: { rpc, cb, box, entry in
            var args = REMOVE3args(object: entry)
            return rpc_nfs3_remove_async(rpc, cb, &args, box)
        }, reply: { data in
            let res = data.assumingMemoryBound(to: REMOVE3res.self).pointee
            return (res.status, res.REMOVE3res_u.resfail.dir_wcc.after)
        })
    }

    /// NFSv3 directory operations are synchronous on the server (RFC 1813 §3.3: CREATE, RENAME, LINK, REMOVE
    /// commit before they reply): nothing to flush.
    public func fsyncDirectory(_ path: StorePath) throws {}

    // MARK: File data

    /// READ: up to `count` bytes at `offset`, and whether the file ends there.
    func read(_ handle: [UInt8], at offset: UInt64, count: Int, _ what: @autoclosure () -> String) throws -> ([UInt8], Bool) {
        var status = NFS3_OK
        var bytes: [UInt8] = []
        var eof = false
        try call(what(), issue: { rpc, cb, box in
            Self.withHandle(handle) { fh in
                var args = READ3args(file: fh, offset: offset, count: UInt32(count))
                return rpc_nfs3_read_async(rpc, cb, &args, box)
            }
        }, decode: { data in
            let res = data.assumingMemoryBound(to: READ3res.self).pointee
            status = res.status
            guard res.status == NFS3_OK else { return }
            let ok = res.READ3res_u.resok
            bytes = Array(UnsafeRawBufferPointer(start: ok.data.data_val, count: Int(min(ok.data.data_len, UInt32(count)))))
            eof = ok.eof != 0
        })
        guard status == NFS3_OK else { throw Self.failure(status, what()) }
        return (bytes, eof)
    }

    /// WRITE: how many bytes the server took, how durably, and its write verifier.
    func write(_ handle: [UInt8], at offset: UInt64, _ bytes: UnsafeRawBufferPointer, stable: stable_how, _ what: @autoclosure () -> String) throws -> (Int, stable_how, [UInt8]) {
        var status = NFS3_OK
        var result = (0, UNSTABLE, [UInt8]())
        try call(what(), issue: { rpc, cb, box in
            Self.withHandle(handle) { fh in
                var args = WRITE3args()
                args.file = fh
                args.offset = offset
                args.count = UInt32(bytes.count)
                args.stable = stable
                args.data.data_len = UInt32(bytes.count)
                args.data.data_val = UnsafeMutableRawPointer(mutating: bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
                return rpc_nfs3_write_async(rpc, cb, &args, box)
            }
        }, decode: { data in
            let res = data.assumingMemoryBound(to: WRITE3res.self).pointee
            status = res.status
            guard res.status == NFS3_OK else { return }
            let ok = res.WRITE3res_u.resok
            result = (Int(ok.count), ok.committed, withUnsafeBytes(of: ok.verf) { Array($0) })
        })
        guard status == NFS3_OK else { throw Self.failure(status, what()) }
        return result
    }

    /// COMMIT of the whole file; its write verifier.
    func commit(_ handle: [UInt8], _ what: @autoclosure () -> String) throws -> [UInt8] {
        var status = NFS3_OK
        var verifier: [UInt8] = []
        try call(what(), issue: { rpc, cb, box in
            Self.withHandle(handle) { fh in
                var args = COMMIT3args(file: fh, offset: 0, count: 0)
                return rpc_nfs3_commit_async(rpc, cb, &args, box)
            }
        }, decode: { data in
            let res = data.assumingMemoryBound(to: COMMIT3res.self).pointee
            status = res.status
            if res.status == NFS3_OK { verifier = withUnsafeBytes(of: res.COMMIT3res_u.resok.verf) { Array($0) } }
        })
        guard status == NFS3_OK else { throw Self.failure(status, what()) }
        return verifier
    }
}

/// An open NFS file: its handle, nothing held on the server (NFSv3 has no open). Every read and write is a call on
/// a pooled context.
// @unchecked Sendable: immutable handle and volume; every call checks a context out of the pool.
final class NFSFile: VolumeReadHandle, VolumeWriteHandle, @unchecked Sendable {
    private let volume: NFSVolume
    private let handle: [UInt8]
    private let path: StorePath
    private var writeOffset: UInt64 = 0
    /// The write verifier of data written UNSTABLE and not yet committed (nil: nothing to commit).
    private var uncommitted: [UInt8]?
    private var closed = false

    init(volume: NFSVolume, handle: [UInt8], path: StorePath) {
        self.volume = volume
        self.handle = handle
        self.path = path
    }

    func read(at offset: Int64, count: Int) throws -> [UInt8] {
        guard !closed else { throw StoreError(code: .io, message: "read \(path): closed") }
        var out: [UInt8] = []
        while out.count < count {
            let (bytes, eof) = try volume.read(handle, at: UInt64(offset) + UInt64(out.count), count: min(count - out.count, volume.readMax), "read \(path)")
            out += bytes
            if eof || bytes.isEmpty { break }
        }
        return out
    }

    func write(_ bytes: [UInt8]) throws {
        guard !closed else { throw StoreError(code: .io, message: "write \(path): closed") }
        // A small whole write at the start of a file (a record, an intent) is made durable by the WRITE itself.
        let stable = writeOffset == 0 && uncommitted == nil && bytes.count <= NFSVolume.stableWriteLimit ? FILE_SYNC : UNSTABLE
        try bytes.withUnsafeBytes { all in
            var done = 0
            while done < all.count {
                let chunk = UnsafeRawBufferPointer(rebasing: all[done..<min(all.count, done + volume.writeMax)])
                let (n, committed, verifier) = try volume.write(handle, at: writeOffset, chunk, stable: stable, "write \(path)")
                if n <= 0 { throw StoreError(code: .io, message: "write \(path): no progress") }
                if committed != FILE_SYNC {
                    if let earlier = uncommitted, earlier != verifier {
                        throw StoreError(code: .io, message: "write \(path): the NFS server restarted while the file was written")
                    }
                    uncommitted = verifier
                }
                done += n
                writeOffset += UInt64(n)
            }
        }
    }

    /// COMMIT, if anything was written UNSTABLE. A verifier that changed means the server restarted and may have
    /// lost what it had not committed: the write fails (RFC 1813 §3.3.21), and the caller starts over.
    func fsync() throws {
        guard !closed, let verifier = uncommitted else { return }
        let now = try volume.commit(handle, "fsync \(path)")
        guard now == verifier else {
            throw StoreError(code: .io, message: "fsync \(path): the NFS server restarted before the data was committed")
        }
        uncommitted = nil
    }

    func close() { closed = true }
}
