import Foundation

/// One change made by an administrator (docs/console.md, "Audit log"): who, what, on which name, when and from
/// which address. Text of `key=value` lines, each value cut to `maxFieldLength` and with every control character
/// replaced, so an entry is one record whatever a name holds; at most `maxSize` bytes.
public struct AuditEntry: Sendable, Equatable {
    public static let maxSize = 4096
    public static let maxFieldLength = 256

    public var time: Date
    /// The administrator (`admin-user` name), or `cli` for the command line.
    public var who: String
    /// The client's address as the console saw it; empty for the command line.
    public var from: String
    /// What was done: `domain.add`, `mailbox.passwd`, `login`, …
    public var action: String
    /// The domain, mailbox or administrator it was done to.
    public var target: String
    /// Anything more (a quota's value); never a secret.
    public var detail: String

    public init(time: Date = Date(), who: String, from: String, action: String, target: String, detail: String = "") {
        self.time = time
        self.who = Self.clean(who)
        self.from = Self.clean(from)
        self.action = Self.clean(action)
        self.target = Self.clean(target)
        self.detail = Self.clean(detail)
    }

    static func clean(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.prefix(maxFieldLength).map {
            $0.properties.generalCategory == .control || $0 == "\u{2028}" || $0 == "\u{2029}" ? "\u{FFFD}" : $0
        }))
    }

    public func encoded() -> [UInt8] {
        Array("time=\(PenaltyRecord.ms(time))\nwho=\(who)\nfrom=\(from)\naction=\(action)\ntarget=\(target)\ndetail=\(detail)\n".utf8)
    }

    public init?(decoding bytes: [UInt8]) {
        guard bytes.count <= Self.maxSize else { return nil }
        var fields: [Substring: String] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { return nil }
            fields[line[..<eq]] = String(line[line.index(after: eq)...])
        }
        guard let ms = fields["time"].flatMap({ Int64($0) }), let who = fields["who"], let action = fields["action"] else { return nil }
        self.init(time: PenaltyRecord.date(ms), who: who, from: fields["from"] ?? "", action: action, target: fields["target"] ?? "",
                  detail: fields["detail"] ?? "")
    }
}
