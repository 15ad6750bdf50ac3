import Foundation

/// Reading another server's store for `poplar import`: always opened read-only (O_RDONLY, never created, never
/// written, never renamed), regular files only, and never more than a named limit (`ImportLimits`).
public enum ImportSourceFile {
    /// The whole file, refused (`tooLarge`) if it is bigger than `limit`.
    public static func read(_ path: String, limit: Int) throws -> [UInt8] {
        // O_NONBLOCK: a FIFO under a message's name must not hang the import at open (it is refused below).
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else { throw StoreError.posix(errno, "cannot open \(path) to read it") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw StoreError.posix(errno, "cannot stat \(path)") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw StoreError(code: .invalidName, message: "\(path) is not a regular file") }
        guard st.st_size <= limit else {
            throw StoreError(code: .tooLarge, message: "\(path) has \(st.st_size) bytes, more than the import limit of \(limit)")
        }
        var out = [UInt8](repeating: 0, count: Int(st.st_size))
        var done = 0
        while done < out.count {
            let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StoreError.posix(errno, "cannot read \(path)")
            }
            if n == 0 { break }
            done += n
        }
        // A file that shrank while read: what was there (the next run sees the rest); one that grew: only its size at open.
        return Array(out.prefix(done))
    }

    /// The names in a directory (not "." and ".."), sorted; nil if it does not exist.
    public static func names(in path: String) throws -> [String]? {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return nil }
        guard isDir.boolValue else { throw StoreError(code: .invalidName, message: "\(path) is not a directory") }
        return try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }

    /// The size of a regular file (a symbolic link is followed), nil for anything else; without opening it.
    public static func regularFileSize(_ path: String) -> Int64? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int64(st.st_size)
    }
}
