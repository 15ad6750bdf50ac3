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

    /// "250-first\r\n250 last\r\n"; the enhanced code, when set, starts every line.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        let texts = lines.isEmpty ? [""] : lines
        for (i, text) in texts.enumerated() {
            var line = "\(code)\(i == texts.count - 1 ? " " : "-")"
            if let enhanced { line += enhanced + " " }
            line += text
            out += Array(line.utf8) + [0x0D, 0x0A]
        }
        return out
    }
}
