/// Reads the DATA section (RFC 5321 §4.1.1.4, §4.5.2): removes dot-stuffing, finds the terminating
/// "<CRLF>.<CRLF>" (a bare-LF ".\n" is accepted too), counts the octets and, past `maxSize`, keeps reading to
/// the end but discards, so the reply can be `552 5.3.4` without holding the message. Chunks may split anywhere.
public struct DataDecoder: Sendable {
    enum State: Sendable { case lineStart, middle, dot, dotCR }

    private var state = State.lineStart
    public let maxSize: Int
    public private(set) var size = 0
    public private(set) var tooLarge = false
    public private(set) var finished = false

    public init(maxSize: Int) {
        self.maxSize = maxSize
    }

    /// Decodes from `input`, appending message bytes to `output`; returns how many input bytes were used
    /// (fewer than given once the end was found: the rest belongs to the next command).
    public mutating func decode(_ input: some Collection<UInt8>, into output: inout [UInt8]) -> Int {
        var used = 0
        for byte in input {
            if finished { break }
            used += 1
            switch state {
            case .lineStart:
                if byte == 0x2E {
                    state = .dot
                } else {
                    emit(byte, &output)
                    state = byte == 0x0A ? .lineStart : .middle
                }
            case .middle:
                emit(byte, &output)
                if byte == 0x0A { state = .lineStart }
            case .dot:
                if byte == 0x0D {
                    state = .dotCR
                } else if byte == 0x0A {
                    finished = true
                } else {
                    // A stuffed dot: drop it, keep the byte.
                    emit(byte, &output)
                    state = .middle
                }
            case .dotCR:
                if byte == 0x0A {
                    finished = true
                } else {
                    emit(0x0D, &output)
                    emit(byte, &output)
                    state = byte == 0x0A ? .lineStart : .middle
                }
            }
        }
        return used
    }

    private mutating func emit(_ byte: UInt8, _ output: inout [UInt8]) {
        size += 1
        if size > maxSize {
            tooLarge = true
            return
        }
        output.append(byte)
    }
}
