import Admin
import Foundation
import Hummingbird

/// The audit log page: the newest `ConsoleLimits.auditPageSize` changes.
extension ConsoleHandlers {
    func auditPage(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let entries = try await backend.run { [admin] in try admin.recentAudit(limit: ConsoleLimits.auditPageSize) }
        let formatter = ISO8601DateFormatter()
        let rows: [[String: Any]] = entries.map {
            ["when": formatter.string(from: $0.time), "who": $0.who, "from": $0.from, "action": $0.action, "target": $0.target,
             "detail": $0.detail]
        }
        return page("audit", title: "Audit log", context, ["entries": rows, "count": rows.count])
    }
}
