import Foundation

/// A size as operators write it: bytes, or with a unit: `500K`, `500M`, `2G`, `1T` (powers of 1024, as `ls -h`
/// and Postfix's `message_size_limit` readers expect), `500KB`, `2GB` likewise, or explicit binary units `1.5GiB`,
/// `500MiB`. Decimal fractions are allowed with a unit. Nil for anything else, or past `Int64.max`.
public enum ByteSize {
    static let units: [String: Double] = {
        var table: [String: Double] = ["": 1, "b": 1]
        for (i, prefix) in ["k", "m", "g", "t"].enumerated() {
            let value = Double(Int64(1) << (10 * (i + 1)))
            for suffix in ["", "b", "ib"] { table[prefix + suffix] = value }
        }
        return table
    }()

    public static func parse(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.utf8.count <= 64 else { return nil }
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

    /// A quota as `mailbox quota` takes it: a size, or `none`/`0`/empty for no quota. `.invalid` for anything else.
    public static func parseQuota(_ text: String) -> QuotaInput {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.isEmpty || t.lowercased() == "none" || t == "0" { return .none }
        guard let bytes = parse(t), bytes > 0 else { return .invalid }
        return .bytes(bytes)
    }

    public enum QuotaInput: Equatable, Sendable {
        case none, bytes(Int64), invalid
    }

    /// Bytes for a person: `1.5 GiB`, `500 MiB`, `12 KiB`, `300 B`.
    public static func describe(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var i = 0
        while value >= 1024, i < units.count - 1 {
            value /= 1024
            i += 1
        }
        if i == 0 { return "\(bytes) B" }
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? "\(Int64(rounded)) \(units[i])" : "\(rounded) \(units[i])"
    }
}
