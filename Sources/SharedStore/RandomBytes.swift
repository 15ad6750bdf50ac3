#if canImport(Glibc)
import Glibc
#endif

/// Bytes from the kernel's CSPRNG in one call (`arc4random_buf`, glibc ≥ 2.36: one `getrandom(2)`).
/// `UInt8.random(in:)` costs a system call per byte: a POP3 connection's challenges and nonces drew 28 of them
/// (docs/performance.md, "Where a session's time goes").
public enum RandomBytes {
    public static func make(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: max(0, count))
        bytes.withUnsafeMutableBytes { buffer in
            if let base = buffer.baseAddress { arc4random_buf(base, buffer.count) }
        }
        return bytes
    }

    /// A `UInt64` read from `bytes` at `offset` (8 bytes, little-endian).
    public static func uint64(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }
}
