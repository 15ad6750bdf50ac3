/// Splits a byte stream into lines, with a bound. CRLF and bare LF both end a line (stripped). A line longer than
/// `maxLength` yields one `.tooLong`, and the rest of it is discarded up to its LF, so the session can go on.
public struct LineFramer: Sendable {
    public enum Event: Sendable, Equatable {
        case line([UInt8])
        case tooLong
    }

    public var maxLength: Int
    private var buffer: [UInt8] = []
    private var start = 0
    /// Inside an over-long line whose end has not arrived yet.
    private var discarding = false

    public init(maxLength: Int) {
        self.maxLength = maxLength
    }

    public mutating func append(_ bytes: some Collection<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    public var bufferedByteCount: Int { buffer.count - start }

    public mutating func nextLine() -> Event? {
        while true {
            let lf = buffer[start...].firstIndex(of: 0x0A)
            if discarding {
                guard let lf else {
                    compact(dropAll: true)
                    return nil
                }
                start = lf + 1
                discarding = false
                continue
            }
            guard let lf else {
                // +1: a CR may be waiting for its LF.
                if bufferedByteCount > maxLength + 1 {
                    discarding = true
                    compact(dropAll: true)
                    return .tooLong
                }
                compact(dropAll: false)
                return nil
            }
            var end = lf
            if end > start && buffer[end - 1] == 0x0D { end -= 1 }
            let length = end - start
            let line = Array(buffer[start..<end])
            start = lf + 1
            compactIfLarge()
            return length > maxLength ? .tooLong : .line(line)
        }
    }

    /// Hands over everything buffered and not yet framed (SMTP DATA reads raw bytes from here on).
    public mutating func takeBuffered() -> [UInt8] {
        let rest = discarding ? [] : Array(buffer[start...])
        buffer.removeAll(keepingCapacity: true)
        start = 0
        discarding = false
        return rest
    }

    /// Drops everything buffered (the STLS guard); returns how many bytes were dropped.
    public mutating func discardBuffered() -> Int {
        let n = bufferedByteCount
        buffer.removeAll(keepingCapacity: true)
        start = 0
        discarding = false
        return n
    }

    private mutating func compact(dropAll: Bool) {
        if dropAll {
            buffer.removeAll(keepingCapacity: true)
        } else if start > 0 {
            buffer.removeFirst(start)
        }
        start = 0
    }

    private mutating func compactIfLarge() {
        if start > 4096 && start * 2 > buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
    }
}
