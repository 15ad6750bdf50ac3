import Admin
import Configuration
import Foundation

extension ByteSize {
    /// A size given on the command line, refused with the units it could have had.
    static func option(_ text: String?, _ what: String) throws -> Int64? {
        guard let text else { return nil }
        guard let bytes = parse(text) else { throw UserError("\(what): \(text) is not a size (bytes, or 500M, 2G, 1.5GiB)") }
        return bytes
    }
}

extension ConfigReader {
    /// A size key (`ConfigSchema.Kind.size`): a JSON whole number of bytes, or a string with a unit, as in the
    /// environment (`POPLAR_COORDINATOR_MAX_MESSAGE_SIZE=64M`).
    func size(forKey key: String) throws -> Int64? {
        if let n = int(forKey: ConfigKey(key)) { return Int64(n) }
        guard let text = string(forKey: ConfigKey(key)) else { return nil }
        guard let bytes = ByteSize.parse(text) else { throw UserError("\(key): \(text) is not a size (bytes, or 500M, 2G, 1.5GiB)") }
        return bytes
    }
}
