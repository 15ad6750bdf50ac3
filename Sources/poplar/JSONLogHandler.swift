import Foundation
import Logging

/// `--log-format json` (`log.format`): one JSON object per line on standard error, for journald and log shippers:
/// `ts` (RFC 3339 UTC, milliseconds), `level`, `msg`, and the metadata, with the session's keys under the names
/// operators search by (`node`, `session`, `client`, `mailbox`; SMTP's `session` and `client` likewise); every other
/// metadata key as it is. Nothing secret is logged in either format (docs/security.md).
struct JSONLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level
    let label: String

    static let renamed = ["pop3.session": "session", "pop3.peer": "client", "pop3.mailbox": "mailbox",
                          "smtp.session": "session", "smtp.peer": "client", "smtp.protocol": "protocol", "smtp.id": "id"]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var object: [String: Any] = ["ts": Self.timestamp(), "level": event.level.rawValue, "msg": "\(event.message)", "label": label]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { _, new in new }) {
            object[Self.renamed[key] ?? key] = Self.json(value)
        }
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        data.append(0x0A)
        FileHandle.standardError.write(data)
    }

    static func json(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let s): return s
        case .stringConvertible(let c): return "\(c)"
        case .array(let a): return a.map(json)
        case .dictionary(let d): return d.mapValues(json)
        }
    }

    static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }
}
