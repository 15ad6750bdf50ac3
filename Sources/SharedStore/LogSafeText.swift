/// Text from outside (a name a client or an operator typed) made safe to put into an error message or a log line:
/// every character that could hide, reorder or forge text on a terminal becomes `U+XXXX`.
public enum LogSafeText {
    /// The most characters of the original kept in a message.
    public static let defaultLimit = 80

    /// `text` cut to `limit` scalars, with controls, bidi controls, invisible, unassigned, private-use and
    /// white-space characters other than the space written as `U+XXXX`.
    public static func escaped(_ text: String, limit: Int = defaultLimit) -> String {
        var out = ""
        for (i, scalar) in text.unicodeScalars.enumerated() {
            if i == limit {
                out += "…"
                break
            }
            out += needsEscape(scalar) ? codePoint(scalar) : String(scalar)
        }
        return out
    }

    /// `U+XXXX` (at least four hex digits, uppercase).
    public static func codePoint(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == " " { return false }
        if Names.isControl(scalar) || Names.isInvisible(scalar) || scalar.properties.isBidiControl || scalar.properties.isWhitespace {
            return true
        }
        switch scalar.properties.generalCategory {
        case .format, .lineSeparator, .paragraphSeparator, .privateUse, .surrogate, .unassigned, .control: return true
        default: return scalar == "\u{FFFD}"
        }
    }
}
