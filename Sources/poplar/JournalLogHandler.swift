import Foundation
import Logging

/// `--log-format journal` (`log.format`): a text line per event on standard error for systemd's journal, which
/// reads the `<N>` syslog priority in front of each line (sd-daemon(3); `SyslogLevelPrefix=` defaults to yes), so
/// `journalctl -p warning -u poplar-node` selects by level, and adds its own timestamp (none is printed here).
/// The session's metadata follow the message as `key=value`, under the names the JSON format uses.
struct JournalLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level
    let label: String

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// syslog(3) priorities: debug 7, info 6, notice 5, warning 4, err 3, crit 2.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    func log(event: LogEvent) {
        var line = "<\(Self.priority(event.level))>\(event.level.rawValue): \(event.message)"
        let all = metadata.merging(event.metadata ?? [:], uniquingKeysWith: { _, new in new })
        for (key, value) in all.sorted(by: { $0.key < $1.key }) {
            line += " \(JSONLogHandler.renamed[key] ?? key)=\(value)"
        }
        // One line per event, whatever the message holds: the journal would split it.
        line = line.replacingOccurrences(of: "\n", with: " ")
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// `--log-format text|json|journal` (config `log.format`; default text).
enum LogFormat: String, CaseIterable {
    case text, json, journal
}
