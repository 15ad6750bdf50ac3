import Glibc

/// The system's account and group databases through NSS (files, sssd, …), reentrant calls only: PAM logins run on
/// many threads at once.
enum UnixAccounts {
    /// The first buffer for a passwd or group entry; doubled on ERANGE up to `maxEntryBytes`.
    static let initialEntryBytes = 1024
    /// A group with thousands of members listed needs a large buffer; beyond this the lookup is an error.
    static let maxEntryBytes = 1 << 20
    /// The first guess at an account's group count; getgrouplist says how many there are when it is too small.
    static let initialGroupCount = 64
    /// Linux's NGROUPS_MAX: an account in more groups than this is an error, not a member of some of them.
    static let maxGroupCount = 65536

    enum LookupError: Error, CustomStringConvertible {
        case failed(String, Int32)
        var description: String {
            switch self {
            case .failed(let call, let code): return "\(call): \(String(cString: strerror(code)))"
            }
        }
    }

    /// The account's primary group, or nil when there is no such account.
    static func primaryGroup(ofUser name: String) throws -> gid_t? {
        try withGrowingBuffer("getpwnam_r") { buffer in
            var entry = passwd()
            var found: UnsafeMutablePointer<passwd>?
            let code = getpwnam_r(name, &entry, buffer.baseAddress!, buffer.count, &found)
            return (code, found == nil ? nil : entry.pw_gid)
        }
    }

    /// The group's id, or nil when there is no such group.
    static func groupID(named name: String) throws -> gid_t? {
        try withGrowingBuffer("getgrnam_r") { buffer in
            var entry = group()
            var found: UnsafeMutablePointer<group>?
            let code = getgrnam_r(name, &entry, buffer.baseAddress!, buffer.count, &found)
            return (code, found == nil ? nil : entry.gr_gid)
        }
    }

    /// Every group the account is in: its primary group and the supplementary ones.
    static func groups(ofUser name: String, primary: gid_t) throws -> [gid_t] {
        var capacity = initialGroupCount
        while true {
            var groups = [gid_t](repeating: 0, count: capacity)
            var count = Int32(capacity)
            if getgrouplist(name, primary, &groups, &count) >= 0 {
                return Array(groups.prefix(Int(count)))
            }
            // Too small: count now says how many there are.
            guard Int(count) > capacity, Int(count) <= maxGroupCount else {
                throw LookupError.failed("getgrouplist (\(count) groups)", ERANGE)
            }
            capacity = Int(count)
        }
    }

    /// Calls a `get*_r` function with a buffer that grows while it answers ERANGE. Not found is (0, nil).
    private static func withGrowingBuffer<T>(_ call: String, _ body: (UnsafeMutableBufferPointer<CChar>) -> (Int32, T?)) throws -> T? {
        var size = initialEntryBytes
        while true {
            let buffer = UnsafeMutableBufferPointer<CChar>.allocate(capacity: size)
            defer { buffer.deallocate() }
            let (code, value) = body(buffer)
            switch code {
            case 0:
                return value
            // Not found, as some NSS modules say it.
            case ENOENT, ESRCH, EBADF, EPERM:
                return nil
            case ERANGE where size < maxEntryBytes:
                size *= 2
            default:
                throw LookupError.failed(call, code)
            }
        }
    }
}
