/// Search filters built from a login (RFC 4515): every value put into a filter is escaped, so a login such as
/// `*)(uid=*` or `a*@example.test` is looked up as those very characters, never as filter syntax.
public enum LDAPFilter {
    /// RFC 4515 §3: `*`, `(`, `)`, `\` and NUL must be written `\XX` in a value; other control characters are
    /// escaped too (allowed, and never wanted raw in a directory's log).
    public static func escape(_ value: String) -> String {
        var out = [UInt8]()
        out.reserveCapacity(value.utf8.count)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "*"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "\\"), 0x00..<0x20, 0x7f:
                out += [UInt8(ascii: "\\"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0f)]]
            default:
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The configured filter with `%u` (the login, user@domain) and `%l` (its local part) replaced by their escaped
    /// values, in one pass (a login holding `%l` is not substituted again); any other `%` stays as written.
    public static func substitute(_ template: String, login: String, localPart: String) -> String {
        var out = ""
        var chars = template.makeIterator()
        while let c = chars.next() {
            guard c == "%" else { out.append(c); continue }
            switch chars.next() {
            case "u": out += escape(login)
            case "l": out += escape(localPart)
            case let other?: out.append("%"); out.append(other)
            case nil: out.append("%")
            }
        }
        return out
    }

    /// A group entry (base-scope search on the group's DN) that names `dn` as a `member` or `uniqueMember`.
    public static func membership(of dn: String) -> String {
        let value = escape(dn)
        return "(|(member=\(value))(uniqueMember=\(value)))"
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
}
