import SMTPCore

/// (e) The socketmap netstring decoder (`NetstringDecoder`).
///
/// Input: byte 0 chooses the payload limit (from a table) and the chunk size; the rest is the stream Postfix sends.
/// The decoder fed in chunks must give what it gives fed at once; every value must be within the limit and
/// re-encode to the bytes it came from; a failure is final.
public enum FuzzNetstring {
    static let limits = [0, 1, 9, 10, 99, 100, 10_000, 100_000]

    public static func run(_ data: [UInt8]) {
        guard let selector = data.first else { return }
        let maxPayload = limits[Int(selector) % limits.count]
        let chunk = 1 + Int(selector >> 3)
        let stream = Array(data.dropFirst())

        var whole = NetstringDecoder(maxPayload: maxPayload)
        whole.append(stream)
        var wholeValues: [[UInt8]] = []
        let wholeEnd = drain(&whole, maxPayload: maxPayload, values: &wholeValues)

        // One results array for the whole run, not one per chunk: with 1-byte chunks of a 16 KiB input the target
        // spent its time in the allocator (434 executions a second under ASan).
        var chunked = NetstringDecoder(maxPayload: maxPayload)
        var chunkedValues: [[UInt8]] = []
        var chunkedEnd = NetstringDecoder.Result.needMore
        var offset = 0
        while offset < stream.count {
            chunked.append(stream[offset..<min(stream.count, offset + chunk)])
            chunkedEnd = drain(&chunked, maxPayload: maxPayload, values: &chunkedValues)
            offset += chunk
        }
        if stream.isEmpty { chunkedEnd = drain(&chunked, maxPayload: maxPayload, values: &chunkedValues) }
        // Values are the same; an invalid stream is refused with the same reason (possibly earlier in the chunked
        // run, which may see a bad byte before the whole run's needMore: compare values and the final state).
        fuzzCheck(wholeValues == chunkedValues, "chunking changed the values")
        fuzzCheck(wholeEnd == chunkedEnd, "chunking changed the end: \(wholeEnd) vs \(chunkedEnd)")

        // The values re-encode to the stream's prefix they came from.
        var encoded: [UInt8] = []
        for v in wholeValues { encoded += NetstringDecoder.encode(v) }
        fuzzCheck(Array(stream.prefix(encoded.count)) == encoded, "values do not re-encode to the input")
    }

    /// `next()` until it needs more or fails, appending the values; returns how it stopped. A failure must repeat.
    static func drain(_ d: inout NetstringDecoder, maxPayload: Int, values: inout [[UInt8]]) -> NetstringDecoder.Result {
        while true {
            let r = d.next()
            switch r {
            case .value(let v):
                fuzzCheck(v.count <= maxPayload, "a value over the limit")
                values.append(v)
            case .needMore:
                return r
            case .invalid:
                fuzzCheck(d.next() == r, "a failure is not final")
                fuzzCheck(d.bufferedByteCount == 0, "a failed decoder still holds bytes")
                return r
            }
        }
    }
}
