/// The MAIL/RCPT parameters after the path (RFC 5321 §4.1.2):
///
///     Mail-parameters = esmtp-param *(SP esmtp-param)
///     esmtp-param     = esmtp-keyword ["=" esmtp-value]
///     esmtp-keyword   = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
///     esmtp-value     = 1*(%d33-60 / %d62-126)
///
/// Runs of spaces between parameters and trailing spaces are tolerated; anything else that does not match
/// (a lone "=", "=value", "KEY=", a tab, 8-bit bytes — SMTPUTF8, RFC 6531, is not offered — a repeated
/// keyword, more than `SMTPLimits.maxParameters`, one longer than `SMTPLimits.maxParameterLength`) is a syntax
/// error, answered `501 5.5.4`. Whether a well-formed parameter is supported is the state machine's business
/// (`555 5.5.4`). Keywords are uppercased (they are case-insensitive, §2.4); a parameter without a value maps to "".
enum SMTPParameterParser {
    static func parse(_ tail: ArraySlice<UInt8>) -> Result<[String: String], SMTPParseError> {
        var params: [String: String] = [:]
        guard let first = tail.first else { return .success(params) }
        guard first == SMTPCommandParser.space else { return .failure(.syntax("a space must follow the path")) }
        for token in tail.split(separator: SMTPCommandParser.space) {
            guard params.count < SMTPLimits.maxParameters else { return .failure(.syntax("too many parameters")) }
            guard token.count <= SMTPLimits.maxParameterLength else { return .failure(.syntax("parameter too long")) }
            let equals = token.firstIndex(of: 0x3D)
            let keyword = token[..<(equals ?? token.endIndex)]
            guard isKeyword(keyword) else { return .failure(.syntax("invalid parameter keyword")) }
            var value: ArraySlice<UInt8>?
            if let equals {
                let v = token[token.index(after: equals)...]
                guard isValue(v) else { return .failure(.syntax("invalid parameter value")) }
                value = v
            }
            let key = SMTPCommandParser.asciiUppercased(keyword)
            guard params[key] == nil else { return .failure(.syntax("duplicate parameter \(key)")) }
            params[key] = value.map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
        return .success(params)
    }

    static func isAlphaDigit(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
    }

    /// esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-").
    static func isKeyword(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard let first = bytes.first, isAlphaDigit(first) else { return false }
        return bytes.dropFirst().allSatisfy { isAlphaDigit($0) || $0 == 0x2D }
    }

    /// esmtp-value = 1*(%d33-60 / %d62-126): printable ASCII except "=".
    static func isValue(_ bytes: ArraySlice<UInt8>) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy { ($0 >= 33 && $0 <= 60) || ($0 >= 62 && $0 <= 126) }
    }
}
