/// djb's netstrings ("<length>:<payload>,"), as Postfix's socketmap_table(5) speaks them. Incremental and linear in its
/// input: bytes are appended, complete netstrings taken from the front by an index, the buffer compacted only when
/// the consumed part dominates. Every bound is named; once invalid it stays invalid (the stream has lost its framing).
public struct NetstringDecoder: Sendable {
    public enum Next: Sendable, Equatable {
        case needMore
        case value([UInt8])
        case invalid(String)
    }

    /// socketmap_table(5): a request is at most 100,000 octets; names and keys here are far shorter.
    public static let socketmapMaxRequest = 10_000

    public let maxPayload: Int
    /// Digits a length may have: enough for `maxPayload`, no more (a length of many digits is never read).
    public let maxLengthDigits: Int
    private var buffer: [UInt8] = []
    private var start = 0
    private var failure: String?

    public init(maxPayload: Int) {
        self.maxPayload = maxPayload
        self.maxLengthDigits = String(maxPayload).count
    }

    /// Bytes held and not yet decoded.
    public var bufferedByteCount: Int { buffer.count - start }

    public mutating func append(_ bytes: some Collection<UInt8>) {
        guard failure == nil else { return }
        if start > 0 && start * 2 >= buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    public mutating func next() -> Next {
        if let failure { return .invalid(failure) }
        var length = 0
        var index = start
        while true {
            guard index < buffer.count else { return .needMore }
            let byte = buffer[index]
            if byte == UInt8(ascii: ":") { break }
            guard byte >= 0x30 && byte <= 0x39 else { return fail("a length is made of digits") }
            guard index - start < maxLengthDigits else { return fail("length longer than \(maxLengthDigits) digits") }
            // djb: no leading zeros, except the length 0 itself.
            if index > start && buffer[start] == UInt8(ascii: "0") { return fail("leading zero in a length") }
            length = length * 10 + Int(byte - 0x30)
            index += 1
        }
        guard index > start else { return fail("empty length") }
        guard length <= maxPayload else { return fail("length \(length) over the bound of \(maxPayload)") }
        let payloadStart = index + 1
        let end = payloadStart + length
        guard end < buffer.count else { return .needMore }
        guard buffer[end] == UInt8(ascii: ",") else { return fail("no comma after the payload") }
        let payload = Array(buffer[payloadStart..<end])
        start = end + 1
        return .value(payload)
    }

    /// "<length>:<payload>,".
    public static func encode(_ payload: [UInt8]) -> [UInt8] {
        Array("\(payload.count):".utf8) + payload + [UInt8(ascii: ",")]
    }

    private mutating func fail(_ reason: String) -> Next {
        failure = reason
        buffer = []
        start = 0
        return .invalid(reason)
    }
}
