/// Streams a stored message as a POP3 multi-line body (RFC 1939 §3): dot-stuffs every line that starts with ".",
/// the first included; for TOP (RFC 1939 §7) stops after the header, the empty line and `topBodyLines` body
/// lines. Chunks may split anywhere, CRLF included. `finish` ends an unterminated last line with CRLF and adds
/// the terminating ".". Holds no more than the current chunk.
public struct MessageStreamer: Sendable {
    private let topBodyLines: Int?
    private var atLineStart = true
    private var lastWasCR = false
    private var inBody = false
    /// True while the current line is the first of its line and empty so far (to find the header's end).
    private var currentLineEmpty = true
    private var bodyLinesSent = 0
    public private(set) var isComplete = false
    private var wroteAnything = false

    public init(topBodyLines: Int?) {
        self.topBodyLines = topBodyLines
        if topBodyLines == 0 { /* header only: decided when the header ends */ }
    }

    public mutating func process(_ chunk: some Collection<UInt8>, into output: inout [UInt8]) {
        for byte in chunk {
            if isComplete { return }
            if atLineStart {
                if let limit = topBodyLines, inBody, bodyLinesSent >= limit {
                    isComplete = true
                    return
                }
                if byte == 0x2E { output.append(0x2E) }
                atLineStart = false
                currentLineEmpty = true
            }
            output.append(byte)
            wroteAnything = true
            if byte == 0x0A {
                // End of a line (CRLF or bare LF).
                if inBody {
                    bodyLinesSent += 1
                } else if currentLineEmpty {
                    inBody = true
                }
                atLineStart = true
                lastWasCR = false
            } else if byte == 0x0D {
                lastWasCR = true
            } else {
                if lastWasCR { currentLineEmpty = false }
                lastWasCR = false
                currentLineEmpty = false
            }
        }
    }

    public mutating func finish(into output: inout [UInt8]) {
        if wroteAnything && !atLineStart && !isComplete {
            if lastWasCR { output.append(0x0A) } else { output += [0x0D, 0x0A] }
        } else if !atLineStart && isComplete {
            output += [0x0D, 0x0A]
        }
        output += [0x2E, 0x0D, 0x0A]
        isComplete = true
    }
}
