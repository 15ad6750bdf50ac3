import Foundation

/// An `application/x-www-form-urlencoded` body (HTML forms) as a dictionary, bounded by `ConsoleLimits`: nil when
/// it is not one, has too many fields, or a field is too long. A repeated field keeps its first value.
enum FormBody {
    static func parse(_ text: String) -> [String: String]? {
        var fields: [String: String] = [:]
        if text.isEmpty { return fields }
        let pairs = text.split(separator: "&", omittingEmptySubsequences: true)
        guard pairs.count <= ConsoleLimits.maxFormFields else { return nil }
        for pair in pairs {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0]), let value = decode(parts.count > 1 ? parts[1] : "") else { return nil }
            guard name.utf8.count <= ConsoleLimits.maxFieldBytes, value.utf8.count <= ConsoleLimits.maxFieldBytes else { return nil }
            if fields[name] == nil { fields[name] = value }
        }
        return fields
    }

    static func decode(_ text: Substring) -> String? {
        String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    /// A value for a URL's query: everything but letters, digits and `-._~` percent-encoded.
    static func encode(_ text: String) -> String {
        var allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        allowed.remove(charactersIn: "")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}
