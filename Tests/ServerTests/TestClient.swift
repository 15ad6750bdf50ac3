import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A small blocking POP3 client over a real socket, for tests: send lines, read replies, with timeouts.
final class TestClient {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int, timeoutSeconds: Int = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestClientError.io("socket") }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw TestClientError.io("connect")
        }
    }

    deinit { close(fd) }

    func send(_ text: String) throws { try sendBytes(Array(text.utf8)) }

    func sendBytes(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestClientError.io("send") }
            offset += n
        }
    }

    /// One line without its CRLF; nil when the server closed the connection.
    func readLine() throws -> String? {
        guard let bytes = try readLineBytes() else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    func readLineBytes() throws -> [UInt8]? {
        while true {
            if let lf = buffer.firstIndex(of: 0x0A) {
                var line = Array(buffer[..<lf])
                buffer.removeFirst(lf + 1)
                if line.last == 0x0D { line.removeLast() }
                return line
            }
            guard try fill() else { return nil }
        }
    }

    /// A multi-line body up to the terminating ".", un-dot-stuffed, with CRLF line ends restored.
    func readMultiline() throws -> [UInt8] {
        var body: [UInt8] = []
        while let line = try readLineBytes() {
            if line == [0x2E] { return body }
            body += (line.first == 0x2E ? Array(line.dropFirst()) : line) + [0x0D, 0x0A]
        }
        throw TestClientError.closed
    }

    @discardableResult
    func command(_ line: String) throws -> String {
        try send(line + "\r\n")
        guard let reply = try readLine() else { throw TestClientError.closed }
        return reply
    }

    /// True when the server has closed the connection (reads EOF within the timeout).
    func isClosedByServer() -> Bool {
        while true {
            guard let more = try? fill() else { return false }
            if !more { return true }
            buffer.removeAll()
        }
    }

    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n == 0 { return false }
        if n < 0 {
            if errno == ECONNRESET { return false }
            throw TestClientError.timeout
        }
        buffer += chunk[0..<n]
        return true
    }

    func abort() {
        var lin = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lin, socklen_t(MemoryLayout<linger>.size))
        shutdown(fd, Int32(SHUT_RDWR))
    }
}

enum TestClientError: Error { case io(String), closed, timeout }
