@testable import SMTPCore

/// Bytes of a string, for fixture tables.
func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// SplitMix64: a seeded generator, so a failing fuzz run can be repeated.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension SMTPAction {
    /// The code of a single reply, nil for the other actions.
    var code: Int? {
        switch self {
        case .send(let r), .sendAndClose(let r), .receiveData(let r), .startTLS(let r): return r.code
        case .none, .sendAll, .checkRecipient, .deliver: return nil
        }
    }
}
