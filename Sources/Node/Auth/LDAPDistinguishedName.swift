/// Comparing distinguished names as a directory does for the `ad` preset's `memberOf` gate: attribute types and
/// values case-insensitively (Active Directory's DNs are), and spaces around `,` and `=` not counted.
enum LDAPDistinguishedName {
    /// The DN's RDN components split at unescaped commas, each `type=value` trimmed and lowercased.
    static func normalized(_ dn: String) -> String {
        var components = [String]()
        var current = ""
        var escaped = false
        for c in dn {
            if escaped { current.append(c); escaped = false; continue }
            if c == "\\" { current.append(c); escaped = true; continue }
            if c == "," { components.append(current); current = ""; continue }
            current.append(c)
        }
        components.append(current)
        return components.map { component in
            let parts = component.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return parts.map { $0.trimmingSpaces.lowercased() }.joined(separator: "=")
        }.joined(separator: ",")
    }

    /// Whether one of an entry's `memberOf` values names the group.
    static func contains(_ values: [String], _ groupDN: String) -> Bool {
        let wanted = normalized(groupDN)
        return values.contains { normalized($0) == wanted }
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " && !s.hasSuffix("\\ ") { s.removeLast() }
        return s
    }
}
