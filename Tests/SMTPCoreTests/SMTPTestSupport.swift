@testable import SMTPCore

/// Bytes of a string, for fixture tables.
func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

extension SMTPAction {
    /// The code of a single reply, nil for the other actions.
    var code: Int? {
        switch self {
        case .send(let r), .sendAndClose(let r), .receiveData(let r), .startTLS(let r): return r.code
        case .none, .sendAll, .checkRecipient, .deliver: return nil
        }
    }
}
