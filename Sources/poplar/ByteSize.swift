import Configuration
import Foundation

/// A size as operators write it: bytes, or with a unit: `500K`, `500M`, `2G`, `1T` (powers of 1024, as `ls -h`
/// and Postfix's `message_size_limit` readers expect), `500KB`, `2GB` likewise, or explicit binary units `1.5GiB`,
/// `500MiB`. Decimal fractions are allowed with a unit. Nil for anything else, or past `Int64.max`.
enum ByteSize {
    static let units: [String: Double] = {
        var table: [String: Double] = ["": 1, "b": 1]
        for (i, prefix) in ["k", "m", "g", "t"].enumerated() {
            let value = Double(Int64(1) << (10 * (i + 1)))
            for suffix in ["", "b", "ib"] { table[prefix + suffix] = value }
        }
        return table
    }()

    static func parse(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let split = trimmed.firstIndex(where: { !($0.isASCII && ($0.isNumber || $0 == ".")) }) ?? trimmed.endIndex
        let number = trimmed[..<split], unit = trimmed[split...].lowercased()
        guard !number.isEmpty, number.filter({ $0 == "." }).count <= 1, let multiplier = units[unit] else { return nil }
        if unit.isEmpty || unit == "b" {
            return Int64(number)  // bytes are whole
        }
        guard let value = Double(number), value.isFinite else { return nil }
        let bytes = (value * multiplier).rounded()
        guard bytes >= 0, bytes < Double(Int64.max) else { return nil }
        return Int64(bytes)
    }
}

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
