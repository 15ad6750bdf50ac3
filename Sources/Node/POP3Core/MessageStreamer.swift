#if canImport(Glibc)
import Glibc
#endif

/// Streams a stored message as a POP3 multi-line body (RFC 1939 §3). The stored form has CRLF line ends and is
/// not dot-stuffed; the streamer
/// - dot-stuffs every line that starts with ".", the first line included (RFC 1939 §3);
/// - writes every line end as CRLF: a bare LF becomes CRLF, so a client that splits on CRLF still finds the
///   terminating "." (a lone CR inside a line is passed through unchanged);
/// - for TOP (RFC 1939 §7) stops after the header, the empty line that ends it and `topBodyLines` body lines;
///   `isComplete` then tells the caller it may stop reading;
/// - copes with chunks split anywhere, inside a CRLF included;
/// - `finish` ends an unterminated last line with CRLF and adds the terminating ".".
///
/// It holds nothing but a few flags: never the message, never a whole line.
public struct MessageStreamer: Sendable {
    private let topBodyLines: Int?
    /// The next byte starts a line.
    private var atLineStart = true
    /// The last byte written was a CR that may yet be followed by its LF.
    private var lastWasCR = false
    /// The current line has content other than a CR that may end it (to find the header's end).
    private var lineHasContent = false
    /// The empty line ending the header has been passed.
    private var inBody = false
    private var bodyLinesSent = 0
    private var finished = false
    /// TOP has sent everything it must (or `finish` was called): further input is ignored.
    public private(set) var isComplete = false

    /// `topBodyLines` nil streams the whole message (RETR); otherwise the header and that many body lines (TOP).
    public init(topBodyLines: Int?) {
        self.topBodyLines = topBodyLines.map { max(0, $0) }
    }

    /// Any collection of bytes (tests, odd callers): copied once, then the fast path.
    public mutating func process(_ chunk: some Collection<UInt8>, into output: inout [UInt8]) {
        process(Array(chunk), into: &output)
    }

    public mutating func process(_ chunk: [UInt8], into output: inout [UInt8]) {
        chunk.withUnsafeBufferPointer { process($0, into: &output) }
    }

    /// The hot path of every RETR: runs of ordinary bytes are copied whole; only CR, LF and a line's first byte
    /// are looked at one by one (a generic per-byte loop cost ~45 ns a byte, docs/performance.md).
    public mutating func process(_ chunk: UnsafeBufferPointer<UInt8>, into output: inout [UInt8]) {
        guard !isComplete else { return }
        if topBodyLines == nil {
            processWhole(chunk, into: &output)
            return
        }
        let n = chunk.count
        var i = 0
        while i < n {
            let byte = chunk[i]
            if atLineStart {
                if byte == 0x2E { output.append(0x2E) }
                atLineStart = false
                lineHasContent = false
                lastWasCR = false
            }
            switch byte {
            case 0x0A:
                if !lastWasCR { output.append(0x0D) }
                output.append(0x0A)
                endLine()
                if isComplete { return }
                i += 1
            case 0x0D:
                if lastWasCR { lineHasContent = true }
                output.append(0x0D)
                lastWasCR = true
                i += 1
            default:
                var j = i + 1
                while j < n, chunk[j] != 0x0A, chunk[j] != 0x0D { j += 1 }
                output.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[i..<j]))
                lineHasContent = true
                lastWasCR = false
                i = j
            }
        }
    }

    /// RETR's path: whole lines at a time, found with `memchr` (SIMD in glibc), since only a line's first byte and the
    /// byte before its LF matter when no header or body lines are counted. A CR inside a line passes through.
    private mutating func processWhole(_ chunk: UnsafeBufferPointer<UInt8>, into output: inout [UInt8]) {
        guard let base = chunk.baseAddress else { return }
        let n = chunk.count
        var i = 0
        while i < n {
            if atLineStart {
                if base[i] == 0x2E { output.append(0x2E) }
                atLineStart = false
                lastWasCR = false
            }
            guard let found = memchr(base + i, 0x0A, n - i) else {
                output.append(contentsOf: UnsafeBufferPointer(start: base + i, count: n - i))
                lastWasCR = base[n - 1] == 0x0D
                return
            }
            let lf = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
            if lf > i {
                output.append(contentsOf: UnsafeBufferPointer(start: base + i, count: lf - i))
                lastWasCR = base[lf - 1] == 0x0D
            }
            if !lastWasCR { output.append(0x0D) }
            output.append(0x0A)
            atLineStart = true
            lastWasCR = false
            i = lf + 1
        }
    }

    private mutating func endLine() {
        atLineStart = true
        lastWasCR = false
        if inBody {
            bodyLinesSent += 1
        } else if !lineHasContent {
            inBody = true
        }
        if let limit = topBodyLines, inBody, bodyLinesSent >= limit {
            isComplete = true
        }
    }

    /// Ends the last line if it lacked its line end, then writes ".\r\n". Only the first call writes anything.
    public mutating func finish(into output: inout [UInt8]) {
        guard !finished else { return }
        finished = true
        if !atLineStart {
            if lastWasCR { output.append(0x0A) } else { output += [0x0D, 0x0A] }
            atLineStart = true
        }
        output += [0x2E, 0x0D, 0x0A]
        isComplete = true
    }
}
