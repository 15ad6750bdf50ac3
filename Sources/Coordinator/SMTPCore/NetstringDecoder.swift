/// An incremental decoder of djb's netstrings, "<length>:<payload>," (https://cr.yp.to/proto/netstrings.txt),
/// as Postfix's socketmap protocol frames requests and replies (socketmap_table(5)).
///
/// Use (e.g. in `SocketmapHandler`): `append` the bytes of each read, then call `next()` until it says
/// `.needMore`; each `.value` is one request. `.invalid` is final (every later `next()` says it again): close
/// the connection. Work is linear in the input: the decoder reads with an index and compacts its buffer only
/// when the consumed part is large. It never holds more than one undecided request beyond what the caller
/// appended: a length is refused as soon as it has too many digits or exceeds `maxPayload`, so the caller
/// bounds memory by not appending much more than `maxPayload + maxLengthDigits + 2` bytes ahead of `next()`.
///
/// Lengths: ASCII digits, no sign, no spaces; a leading zero only as the whole length "0" (djb: "0:," is the
/// empty string; "00:," or "01:x," are refused, so one payload has one encoding).
public struct NetstringDecoder: Sendable {
    public enum Result: Sendable, Equatable {
        case needMore
        case value([UInt8])
        case invalid(InvalidReason)
    }

    public enum InvalidReason: Sendable, Equatable {
        /// The length did not start with a digit, or a byte other than a digit or ":" followed digits.
        case notADigit
        /// "0" followed by another digit.
        case leadingZero
        /// More digits than `maxLengthDigits`.
        case tooManyDigits
        /// The length is larger than `maxPayload`.
        case tooLong
        /// The byte after the payload was not ",".
        case missingComma
    }

    /// socketmap_table(5) allows requests up to 100,000 octets; names and keys here are far shorter.
    public static let defaultMaxPayload = 10_000
    /// The consumed prefix of the buffer is dropped once it is this large and at least half the buffer.
    static let compactionThreshold = 4096

    /// Largest payload accepted.
    public let maxPayload: Int
    /// Digits of `maxPayload`: more is refused before the ":" is seen.
    public let maxLengthDigits: Int

    private var buffer: [UInt8] = []
    private var start = 0
    private var failure: InvalidReason?

    public init(maxPayload: Int = NetstringDecoder.defaultMaxPayload) {
        self.maxPayload = max(0, maxPayload)
        self.maxLengthDigits = String(self.maxPayload).utf8.count
    }

    /// Bytes appended and not yet decoded.
    public var bufferedByteCount: Int { buffer.count - start }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        guard failure == nil else { return }
        buffer.append(contentsOf: bytes)
    }

    /// The next netstring, if complete.
    public mutating func next() -> Result {
        if let failure { return .invalid(failure) }
        var length = 0
        var i = start
        // The length: 1...maxLengthDigits digits, then ":".
        while true {
            guard i < buffer.count else { return .needMore }
            let b = buffer[i]
            if b == 0x3A { break }
            guard b >= 0x30 && b <= 0x39 else { return fail(.notADigit) }
            if i > start && buffer[start] == 0x30 { return fail(.leadingZero) }
            guard i - start < maxLengthDigits else { return fail(.tooManyDigits) }
            let (times10, o1) = length.multipliedReportingOverflow(by: 10)
            let (next, o2) = times10.addingReportingOverflow(Int(b - 0x30))
            guard !o1, !o2 else { return fail(.tooLong) }
            length = next
            i += 1
        }
        guard i > start else { return fail(.notADigit) }
        guard length <= maxPayload else { return fail(.tooLong) }
        let payloadStart = i + 1
        guard buffer.count - payloadStart > length else { return .needMore }
        let comma = payloadStart + length
        guard buffer[comma] == 0x2C else { return fail(.missingComma) }
        let value = Array(buffer[payloadStart..<comma])
        start = comma + 1
        compactIfDue()
        return .value(value)
    }

    /// "<length>:<payload>," for a reply.
    public static func encode(_ payload: some Collection<UInt8>) -> [UInt8] {
        Array(String(payload.count).utf8) + [0x3A] + Array(payload) + [0x2C]
    }

    private mutating func fail(_ reason: InvalidReason) -> Result {
        failure = reason
        buffer = []
        start = 0
        return .invalid(reason)
    }

    private mutating func compactIfDue() {
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start >= Self.compactionThreshold && start * 2 >= buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
    }
}
