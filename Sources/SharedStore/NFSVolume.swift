import CNFS
import Foundation
import Synchronization

/// A volume on an NFSv3 export reached in user space with libnfs:
/// `nfs://server/export[?nfsport=N&mountport=M&timeout=MS]` (`NFSURL`).
///
/// Its pieces, one file each: the URL (`NFSURL`), the context pool (`+Contexts`), one RPC and its failure rules
/// (`+Call`), handle conversions (`+Handles`), the directory handle cache (`NFSDirectoryCache`, `+Directories`),
/// LOOKUP/GETATTR (`+Lookup`), listings (`+Listing`), calls on names (`+Names`), file data (`+FileData`, `NFSFile`).
/// Every public operation's doc says its RPC budget with its directory's handle cached; a directory not cached costs
/// one LOOKUP per path component not cached, and one that is found gone one walk from the root and one retry.
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
    let pool = Mutex<[Context]>([])
    /// Set once, in init.
    private(set) var rootHandle: [UInt8] = []
    /// Directory handles by path below the export ("base/…/dir").
    let directories = NFSDirectoryCache(capacity: NFSVolume.maxCachedDirectories)
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
    public init(url: String, directory: String = "", timeoutMilliseconds: Int = NFSURL.defaultTimeoutMilliseconds) throws {
        let parsed = try NFSURL(parsing: url, timeoutMilliseconds: timeoutMilliseconds)
        self.url = parsed.libnfsURL
        self.server = parsed.server
        self.export = parsed.export
        self.nfsPort = parsed.nfsPort
        self.mountPort = parsed.mountPort
        self.timeoutMilliseconds = Int32(parsed.timeoutMilliseconds)
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
}
