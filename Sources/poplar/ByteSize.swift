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
