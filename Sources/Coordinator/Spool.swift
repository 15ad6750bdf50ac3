import Foundation

/// A message being received, kept in an unlinked local temporary file: bounded memory whatever the size, and
/// nothing left on disk if the process dies. Blocking: used from the thread pool.
// @unchecked Sendable: used by one thread at a time: each write is issued after the previous one completed.
public final class Spool: @unchecked Sendable {
    private var fd: Int32
    public private(set) var size: Int64 = 0

    public init(directory: String) throws {
        var template = Array((directory.hasSuffix("/") ? directory : directory + "/").utf8CString.dropLast()) + Array("poplar-spool-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw SpoolError("cannot create a spool file in \(directory): \(String(cString: strerror(errno)))") }
        let path = String(decoding: template.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        unlink(path)
        self.fd = fd
    }

    deinit { close() }

    public func append(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + offset, bytes.count - offset, off_t(size) + off_t(offset)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SpoolError("spool write failed: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
        size += Int64(bytes.count)
    }

    public func read(at offset: Int64, count: Int) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
            if n >= 0 {
                buffer.removeLast(count - n)
                return buffer
            }
            if errno != EINTR { throw SpoolError("spool read failed: \(String(cString: strerror(errno)))") }
        }
    }

    public func close() {
        if fd >= 0 {
            Foundation.close(fd)
            fd = -1
        }
    }
}

public struct SpoolError: Error, CustomStringConvertible {
    public var description: String
    init(_ text: String) { description = text }
}
