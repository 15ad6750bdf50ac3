/// A reply (RFC 5321 §4.2): a code, an enhanced status code (RFC 3463, announced by ENHANCEDSTATUSCODES,
/// RFC 2034) and one or more text lines.
public struct SMTPReply: Sendable, Equatable {
    public var code: Int
    public var enhanced: String?
    public var lines: [String]

    public init(_ code: Int, _ enhanced: String?, _ lines: String...) {
        self.code = code
        self.enhanced = enhanced
        self.lines = lines
    }

    public init(code: Int, enhanced: String?, lines: [String]) {
        self.code = code
        self.enhanced = enhanced
        self.lines = lines
    }

    public var isPositive: Bool { code < 400 }

    /// "250-first\r\n250 last\r\n"; the enhanced code, when set, starts every line. The text is RFC 5321 §4.2's
    /// textstring (HT and printable ASCII): any other byte, whatever a caller put in the text (a CR or LF that would
    /// start a forged reply, 8-bit), is sent as "?".
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        let texts = lines.isEmpty ? [""] : lines
        for (i, text) in texts.enumerated() {
            var line = "\(code)\(i == texts.count - 1 ? " " : "-")"
            if let enhanced { line += enhanced + " " }
            line += text
            out += line.utf8.map { $0 == 0x09 || (0x20...0x7E).contains($0) ? $0 : 0x3F } + [0x0D, 0x0A]
        }
        return out
    }
}
