import Admin
import ArgumentParser
import Foundation
import SharedStore

/// `poplar audit`: the newest changes made by administrators, from the CLI and the console alike (`.poplar/audit/`),
/// as the console's audit page shows them.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", abstract: "Show the newest administrative changes (who, what, when, from where).",
                                                    subcommands: [Show.self, Prune.self], defaultSubcommand: Show.self)

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove the audit log's entries older than N days (whole days; recorded itself).")
        @OptionGroup var common: CommonOptions
        @Option(name: .customLong("keep-days"), help: "Days to keep (at least 1).") var keepDays: Int
        func run() async throws {
            let removed = try await common.admin { try $0.pruneAudit(keepDays: keepDays, by: .cli) }
            print("removed \(removed) audit entr\(removed == 1 ? "y" : "ies") older than \(keepDays) day\(keepDays == 1 ? "" : "s")")
        }
    }
}

extension AuditCommand {
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the newest administrative changes (the default).")
        @OptionGroup var common: CommonOptions
        @OptionGroup var output: JSONOutputOption
        @Option(help: "At most N entries, newest first (1-\(MailStore.maxAuditRead)).") var limit = 50

        func run() async throws {
            guard (1...MailStore.maxAuditRead).contains(limit) else { throw UserError("--limit must be 1 to \(MailStore.maxAuditRead)") }
            let entries = try await common.admin { try $0.recentAudit(limit: limit) }
            if output.json {
                JSONOutput.print(["entries": entries.map { e -> [String: Any] in
                    ["time": JSONOutput.time(e.time), "who": e.who, "from": e.from, "action": e.action, "target": e.target, "detail": e.detail]
                }])
                return
            }
            let formatter = ISO8601DateFormatter()
            for e in entries {
                let from = e.from.isEmpty ? "" : " from \(LogSafeText.escaped(e.from))"
                let detail = e.detail.isEmpty ? "" : "  \(LogSafeText.escaped(e.detail))"
                print("\(formatter.string(from: e.time))  \(LogSafeText.escaped(e.who))\(from)  \(LogSafeText.escaped(e.action))  \(LogSafeText.escaped(e.target))\(detail)")
            }
        }
    }
}
