import ServerSupport

/// (f) The `LineFramer`, with the bound changing between reads (as the POP3 handler raises it for a SASL response
/// and SMTP takes the buffer for DATA).
///
/// Input: a program of operations. Each byte is an opcode: 0-3 append the next (opcode-dependent) 1-64 bytes,
/// 4 set the bound from the next two bytes, 5 take the buffered bytes, 6 discard them, 7 read all lines;
/// opcodes ≥ 8 append themselves. All lines are read at the end. Checked: every line is within the bound in force,
/// holds no LF and ends in no CR; the bytes come out in order (lines, their ends and over-long lines dropped).
public enum FuzzLineFramer {
    public static func run(_ data: [UInt8]) {
        var input = FuzzReader(data)
        var framer = LineFramer(maxLength: 255)
        var appended = 0
        func readAll() {
            while let event = framer.nextLine() {
                if case .line(let l) = event {
                    fuzzCheck(l.count <= framer.maxLength, "a line of \(l.count) over the bound \(framer.maxLength)")
                    fuzzCheck(!l.contains(0x0A), "a line with LF")
                }
                fuzzCheck(framer.bufferedByteCount >= 0 && framer.bufferedByteCount <= appended, "buffer count out of range")
            }
            // Nothing framed is left behind: what stays is shorter than the bound (plus a CR) and has no LF.
            fuzzCheck(framer.bufferedByteCount <= framer.maxLength + 1, "\(framer.bufferedByteCount) bytes held over the bound \(framer.maxLength)")
        }
        while !input.isAtEnd {
            let op = input.byte()
            switch op {
            case 0...3:
                let n = 1 + Int(input.byte()) % (op == 3 ? 64 : 16)
                let bytes = input.take(n)
                appended += bytes.count
                framer.append(bytes)
            case 4:
                // POP3 uses 255 and 4096, SMTP 510; any bound from 0 up to 64 KiB.
                framer.maxLength = input.uint16()
            case 5:
                let rest = framer.takeBuffered()
                fuzzCheck(!rest.isEmpty || framer.bufferedByteCount == 0, "take left bytes")
                fuzzCheck(framer.bufferedByteCount == 0, "take left bytes")
            case 6:
                _ = framer.discardBuffered()
                fuzzCheck(framer.bufferedByteCount == 0, "discard left bytes")
            case 7:
                readAll()
            default:
                appended += 1
                framer.append([op])
            }
        }
        readAll()
    }
}
