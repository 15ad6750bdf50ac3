/// What every fuzz target shares: a reader of the input's bytes and the list of targets by name.
///
/// Every target is `run(_ data: [UInt8])`: deterministic (no clock, no randomness, no I/O), so a crash input
/// replays exactly, and total: the only way to fail is a trap in the code under test or a broken invariant
/// (`fuzzCheck`), which is a bug either way.

/// The targets by the name `POPLAR_FUZZ_TARGET`, the corpus folders and the replay tests use.
public enum FuzzRegistry {
    public static let targets: [(name: String, run: @Sendable ([UInt8]) -> Void)] = [
        ("pop3", FuzzPOP3Session.run),
        ("sasl", FuzzSASL.run),
        ("smtp", FuzzSMTPSession.run),
        ("proxy", FuzzProxyHeader.run),
        ("netstring", FuzzNetstring.run),
        ("lineframer", FuzzLineFramer.run),
        ("store", FuzzStoreRecords.run),
        ("config", FuzzConfig.run),
    ]

    public static func target(named name: String) -> (@Sendable ([UInt8]) -> Void)? {
        targets.first { $0.name == name }?.run
    }
}

/// A broken invariant: a bug in the code under test (or in the target's reading of its contract).
@inline(never)
func fuzzCheck(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String, file: StaticString = #file, line: UInt = #line) {
    if !condition() { fatalError("fuzz invariant: \(message())", file: file, line: line) }
}

/// Reads an input front to back; past its end every read gives zero, so a target never has to check lengths.
struct FuzzReader {
    let bytes: [UInt8]
    var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { index >= bytes.count }
    var remaining: Int { max(0, bytes.count - index) }

    mutating func byte() -> UInt8 {
        guard index < bytes.count else { return 0 }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func bool() -> Bool { byte() & 1 == 1 }

    mutating func uint16() -> Int { Int(byte()) << 8 | Int(byte()) }

    /// Up to `count` bytes (fewer at the end).
    mutating func take(_ count: Int) -> [UInt8] {
        let n = min(max(0, count), remaining)
        defer { index += n }
        return Array(bytes[index..<(index + n)])
    }

    mutating func rest() -> [UInt8] { take(remaining) }

    /// The next line without its LF (and without a CR before it); nil at the end.
    mutating func line() -> [UInt8]? {
        guard !isAtEnd else { return nil }
        let end = bytes[index...].firstIndex(of: 0x0A) ?? bytes.endIndex
        var line = Array(bytes[index..<end])
        index = min(bytes.count, end + 1)
        if line.last == 0x0D { line.removeLast() }
        return line
    }
}

/// Splits an input into lines (LF, with an optional CR before it), the last one possibly unterminated.
func fuzzLines(_ bytes: [UInt8]) -> [[UInt8]] {
    var reader = FuzzReader(bytes)
    var lines: [[UInt8]] = []
    while let l = reader.line() { lines.append(l) }
    return lines
}
