/// A server reply (RFC 1939 §3).
public enum POP3Response: Sendable, Equatable {
    /// RFC 1939 §3: "+OK text" ("+OK" alone when the text is empty).
    case ok(String)
    /// "-ERR [CODE] text" (RFC 2449 §8: the code in brackets right after -ERR).
    case err(POP3ResponseCode?, String)
    /// RFC 1939 §3: "+OK text", the lines (each dot-stuffed when it starts with "."), then ".".
    case multiline(String, [String])
    /// RFC 5034 §4: "+ " followed by a base64 challenge.
    case continuation(String)

    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        switch self {
        case .ok(let text):
            out += Array("+OK".utf8)
            if !text.isEmpty { out.append(0x20); out += Array(text.utf8) }
        case .err(let code, let text):
            out += Array("-ERR".utf8)
            if let code { out += Array(" [\(code.rawValue)]".utf8) }
            if !text.isEmpty { out.append(0x20); out += Array(text.utf8) }
        case .multiline(let text, let lines):
            out += Array("+OK".utf8)
            if !text.isEmpty { out.append(0x20); out += Array(text.utf8) }
            out += [0x0D, 0x0A]
            for line in lines {
                if line.utf8.first == 0x2E { out.append(0x2E) }
                out += Array(line.utf8)
                out += [0x0D, 0x0A]
            }
            out.append(0x2E)
        case .continuation(let text):
            out += Array("+ ".utf8) + Array(text.utf8)
        }
        out += [0x0D, 0x0A]
        return out
    }
}
