import Foundation
import SharedStore

/// A small blocking POP3 client for `poplar import pop3` (RFC 1939): USER/PASS, UIDL, LIST, RETR, QUIT; never DELE.
/// Every reply line is bounded (`ImportLimits.maxLineBytes`), every message (`ImportLimits.maxMessageBytes`), every
/// wait (`timeout`). Used from one thread at a time.
// @unchecked Sendable: one import thread uses it at a time (the items' loads run one after another).
final class ImportPOP3Client: @unchecked Sendable {
    static let timeoutSeconds = 60

    private let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    private(set) var closed = false

    struct Failure: Error, CustomStringConvertible {
        var description: String
        /// An -ERR answer: the connection is still usable.
        var refused = false
    }

    init(host: String, port: Int) throws {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &result)
        guard rc == 0, let first = result else {
            throw Failure(description: "cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(result) }
        var lastError: Int32 = 0
        var ai: UnsafeMutablePointer<addrinfo>? = first
        var connected: Int32 = -1
        while let a = ai {
            let s = socket(a.pointee.ai_family, a.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), a.pointee.ai_protocol)
            if s >= 0 {
                var tv = timeval(tv_sec: Self.timeoutSeconds, tv_usec: 0)
                setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                if connect(s, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 {
                    connected = s
                    break
                }
                lastError = errno
                Glibc.close(s)
            }
            ai = a.pointee.ai_next
        }
        guard connected >= 0 else {
            throw Failure(description: "cannot connect to \(host) port \(port): \(String(cString: strerror(lastError)))")
        }
        fd = connected
    }

    deinit { if !closed { Glibc.close(fd) } }

    func close() {
        guard !closed else { return }
        closed = true
        _ = Glibc.close(fd)
    }

    // MARK: Lines

    private func fill() throws {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0 {
            let e = errno
            if e == EINTR { return }
            throw Failure(description: e == EAGAIN || e == EWOULDBLOCK ? "no answer within \(Self.timeoutSeconds) s" : "connection failed: \(String(cString: strerror(e)))")
        }
        if n == 0 { throw Failure(description: "the server closed the connection") }
        buffer.append(contentsOf: chunk[0..<n])
    }

    /// One line without its CRLF (or bare LF).
    func line() throws -> [UInt8] {
        while true {
            if let nl = buffer[start...].firstIndex(of: 0x0A) {
                var line = Array(buffer[start..<nl])
                start = nl + 1
                if line.last == 0x0D { line.removeLast() }
                return line
            }
            guard buffer.count - start <= ImportLimits.maxLineBytes else {
                throw Failure(description: "a line from the server is longer than \(ImportLimits.maxLineBytes) bytes")
            }
            if start > 0 {
                buffer.removeFirst(start)
                start = 0
            }
            try fill()
        }
    }

    func send(_ text: String) throws {
        let bytes = Array((text + "\r\n").utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + done, $0.count - done, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "cannot send: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }

    /// A single-line reply: its text after `+OK`; `-ERR` is thrown with its text (never the command: it may hold a password).
    @discardableResult
    func ok(_ what: String) throws -> String {
        let reply = String(decoding: try line(), as: UTF8.self)
        guard reply.hasPrefix("+OK") else {
            throw Failure(description: "\(what) refused: \(LogSafeText.escaped(reply, limit: 200))", refused: reply.hasPrefix("-ERR"))
        }
        return String(reply.dropFirst(3)).trimmingCharacters(in: .whitespaces)
    }

    /// The lines of a multi-line reply after +OK, dot-unstuffed, up to the terminating ".". `limit` bounds the total.
    func multiline(limit: Int) throws -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var total = 0
        while true {
            var l = try line()
            if l == [0x2E] { return lines }
            if l.first == 0x2E { l.removeFirst() }
            total += l.count + 2
            guard total <= limit else { throw Failure(description: "reply longer than \(limit) bytes") }
            lines.append(l)
        }
    }

    // MARK: Commands

    func greeting() throws { try ok("the greeting") }

    func login(user: String, password: String) throws {
        try send("USER \(user)")
        try ok("USER")
        try send("PASS \(password)")
        try ok("the login of \(user)")
    }

    /// UIDL: message number -> UIDL.
    func uidls() throws -> [(number: Int, uidl: String)] {
        try send("UIDL")
        try ok("UIDL (the server must offer it: without UIDLs there is nothing to keep)")
        return try multiline(limit: ImportLimits.maxIndexFileBytes).map { raw in
            let parts = String(decoding: raw, as: UTF8.self).split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let n = Int(parts[0]) else {
                throw Failure(description: "UIDL line is not `n uidl`: \(LogSafeText.escaped(String(decoding: raw, as: UTF8.self)))")
            }
            return (n, String(parts[1]))
        }
    }

    func sizes() throws -> [Int: Int64] {
        try send("LIST")
        try ok("LIST")
        var out: [Int: Int64] = [:]
        for raw in try multiline(limit: ImportLimits.maxIndexFileBytes) {
            let parts = String(decoding: raw, as: UTF8.self).split(separator: " ")
            if parts.count >= 2, let n = Int(parts[0]), let s = Int64(parts[1]) { out[n] = s }
        }
        return out
    }

    /// The message as the server keeps it (CRLF lines joined, dot-unstuffed).
    func retrieve(_ number: Int) throws -> [UInt8] {
        try send("RETR \(number)")
        try ok("RETR \(number)")
        var out: [UInt8] = []
        for l in try multiline(limit: ImportLimits.maxMessageBytes) {
            out += l
            out += [0x0D, 0x0A]
        }
        return out
    }

    /// QUIT without any DELE: the server deletes nothing.
    func quit() {
        try? send("QUIT")
        _ = try? line()
        close()
    }
}
