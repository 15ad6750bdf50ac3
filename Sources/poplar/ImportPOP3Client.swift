import Foundation
import SharedStore

/// A small blocking POP3 client for `poplar import pop3` (RFC 1939, STLS of RFC 2595): USER/PASS, UIDL, LIST, RETR,
/// QUIT; never DELE.
/// Every reply line is bounded (`ImportLimits.maxLineBytes`), every message (`ImportLimits.maxMessageBytes`), every
/// wait (`timeout`). Used from one thread at a time.
// @unchecked Sendable: one import thread uses it at a time (the items' loads run one after another).
final class ImportPOP3Client: @unchecked Sendable {
    static let timeoutSeconds = 60

    private let connection: ImportPOP3Connection
    private var buffer: [UInt8] = []
    private var start = 0
    private(set) var closed = false

    struct Failure: Error, CustomStringConvertible {
        var description: String
        /// An -ERR answer: the connection is still usable.
        var refused = false
    }

    /// `security`: none, TLS from the first byte (POP3S), or STLS after the greeting (RFC 2595); the greeting is
    /// read here in every case.
    init(host: String, port: Int, security: ImportPOP3Connection.Security) throws {
        do {
            connection = try ImportPOP3Connection(host: host, port: port, security: security, timeoutSeconds: Self.timeoutSeconds)
        } catch let f as ImportPOP3Connection.Failure {
            throw Failure(description: f.description)
        }
        try ok("the greeting")
        if case .startTLS = security {
            try send("STLS")
            try ok("STLS")
            // Anything the server sent after +OK and before the handshake would be plaintext injected into the session.
            guard start == buffer.count else { throw Failure(description: "the server sent data after its STLS answer, before TLS") }
            do { try connection.startTLS() } catch let f as ImportPOP3Connection.Failure { throw Failure(description: f.description) }
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        connection.close()
    }

    // MARK: Lines

    private func fill() throws {
        do {
            buffer += try connection.receive()
        } catch let f as ImportPOP3Connection.Failure {
            throw Failure(description: f.description)
        }
    }

    /// One line without its CRLF (or bare LF), at most `limit` bytes: a reply line `ImportLimits.maxLineBytes`; a
    /// line of a message may be longer (bounded by the message's limit).
    func line(limit: Int = ImportLimits.maxLineBytes) throws -> [UInt8] {
        var searched = start
        while true {
            if let nl = buffer[searched...].firstIndex(of: 0x0A) {
                guard nl - start <= limit + 1 else { throw tooLong(limit) }
                var line = Array(buffer[start..<nl])
                start = nl + 1
                if line.last == 0x0D { line.removeLast() }
                return line
            }
            guard buffer.count - start <= limit + 1 else { throw tooLong(limit) }
            if start > 0 {
                buffer.removeFirst(start)
                start = 0
            }
            searched = buffer.count
            try fill()
        }
    }

    private func tooLong(_ limit: Int) -> Failure {
        Failure(description: "a line from the server is longer than \(limit) bytes")
    }

    func send(_ text: String) throws {
        do {
            try connection.send(Array((text + "\r\n").utf8))
        } catch let f as ImportPOP3Connection.Failure {
            throw Failure(description: f.description)
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

    /// The lines of a multi-line reply after +OK, dot-unstuffed, up to the terminating ".". `limit` bounds the total,
    /// `lineLimit` each line.
    func multiline(limit: Int, lineLimit: Int = ImportLimits.maxLineBytes) throws -> [[UInt8]] {
        var lines: [[UInt8]] = []
        try multiline(limit: limit, lineLimit: lineLimit) { lines.append(Array($0)) }
        return lines
    }

    /// The same, each line handed to `body` as it arrives (no copy of the whole reply is kept here).
    func multiline(limit: Int, lineLimit: Int, _ body: (ArraySlice<UInt8>) -> Void) throws {
        var total = 0
        while true {
            let l = try line(limit: min(lineLimit, limit))
            if l == [0x2E] { return }
            let unstuffed = l.first == 0x2E ? l.dropFirst() : l[...]
            total += unstuffed.count + 2
            guard total <= limit else { throw Failure(description: "reply longer than \(limit) bytes") }
            body(unstuffed)
        }
    }

    // MARK: Commands

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
    /// `expectedSize`: LIST's octet count, to size the buffer once (never above the limit).
    func retrieve(_ number: Int, expectedSize: Int64? = nil) throws -> [UInt8] {
        try send("RETR \(number)")
        try ok("RETR \(number)")
        var out: [UInt8] = []
        if let expectedSize, expectedSize > 0 { out.reserveCapacity(Int(min(expectedSize + 1024, Int64(ImportLimits.maxMessageBytes)))) }
        try multiline(limit: ImportLimits.maxMessageBytes, lineLimit: ImportLimits.maxMessageBytes) { line in
            out += line
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
