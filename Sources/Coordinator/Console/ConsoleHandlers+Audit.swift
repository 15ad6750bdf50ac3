import Admin
import Foundation
import Hummingbird
import SharedStore

/// The audit log page: the newest `ConsoleLimits.auditPageSize` changes.
extension ConsoleHandlers {
    func auditPage(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let entries: [AuditEntry]
        do {
            entries = try await backend.run { [admin] in try admin.recentAudit(limit: ConsoleLimits.auditPageSize) }
        } catch let error as AdminError {
            return pages.page("audit", title: "Audit log", context: context, flash: .init(text: error.description, isError: true),
                              values: ["entries": [[String: Any]](), "count": 0], status: .serviceUnavailable)
        }
        let formatter = ISO8601DateFormatter()
        let rows: [[String: Any]] = entries.map {
            ["when": formatter.string(from: $0.time), "who": $0.who, "from": $0.from, "action": $0.action, "target": $0.target,
             "detail": $0.detail]
        }
        return page("audit", title: "Audit log", context, ["entries": rows, "count": rows.count])
    }
}
