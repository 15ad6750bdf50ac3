#if canImport(Glibc)
import Glibc
#endif

/// A store failure, typed at the bottom and turned into a protocol reply only at the edge
/// (`-ERR [SYS/TEMP]`, `451 4.3.0`, an exit message). The message names what is wrong and never holds a secret.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        case notFound, alreadyExists, invalidName, notEmpty, unavailable, noSpace, quotaExceeded, tooLarge
        case corrupt, permissionDenied, wrongGUID, notInitialized, inUse, io
        /// The message fits the quota alone, but not with the deliveries to the same mailbox finishing at the same
        /// moment: try again (one of them gets in, `DeliveryWriter.finish`).
        case quotaContended
    }

    public var code: Code
    public var message: String
    public var errno: Int32?
    /// For `invalidName`: the naming rule the name broke.
    public var nameRule: NameRule?

    public init(code: Code, message: String, errno: Int32? = nil, nameRule: NameRule? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
        self.nameRule = nameRule
    }

    /// Worth retrying later: POP3 answers `[SYS/TEMP]`, LMTP `451 4.3.0`.
    public var isTemporary: Bool {
        switch code {
        case .unavailable, .noSpace, .io, .quotaContended: return true
        case .notFound, .alreadyExists, .invalidName, .notEmpty, .quotaExceeded, .tooLarge, .corrupt, .permissionDenied,
            .wrongGUID, .notInitialized, .inUse:
            return false
        }
    }

    public var description: String { message }

    /// Maps an errno from a call on `what` to a typed error.
    public static func posix(_ err: Int32, _ what: String) -> StoreError {
        let text = String(cString: strerror(err))
        let code: Code
        switch err {
        case ENOENT: code = .notFound
        case EEXIST: code = .alreadyExists
        case ENOTEMPTY: code = .notEmpty
        case ENOSPC, EDQUOT: code = .noSpace
        case EACCES, EPERM, EROFS: code = .permissionDenied
        case EIO, ETIMEDOUT, ESTALE, ENOTCONN, EHOSTUNREACH, ECONNREFUSED, ENETUNREACH, EAGAIN: code = .unavailable  // EAGAIN: NFS's JUKEBOX
        default: code = .io
        }
        return StoreError(code: code, message: "\(what): \(text)", errno: err)
    }
}
