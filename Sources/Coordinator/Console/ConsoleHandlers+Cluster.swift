import Admin
import Foundation
import Hummingbird
import SharedStore

/// The cluster page: every node of the registry (sessions, held mailboxes, SILENT), the delivery lease's holder,
/// and a Drain button per node (`AdminOperations.drainNode`, what `poplar node drain` does).
extension ConsoleHandlers {
    func clusterPage(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let status: ClusterStatus
        do {
            status = try await backend.run { [admin] in try admin.clusterStatus() }
        } catch let error as AdminError {
            return pages.page("cluster", title: "Cluster", context: context, flash: .init(text: error.description, isError: true),
                              values: ["nodes": [[String: Any]]()], status: .serviceUnavailable)
        }
        let formatter = ISO8601DateFormatter()
        let nodes: [[String: Any]] = status.nodes.map { n in
            ["node": n.node, "address": n.address, "version": n.version, "state": n.draining ? "draining" : "serving",
             "silent": n.isSilent(now: status.read), "count": n.sessions.count, "draining": n.draining,
             "sessions": n.sessions.sorted { $0.mailbox < $1.mailbox }.prefix(ConsoleLimits.clusterSessionsShown).map { s -> [String: Any] in
                 ["mailbox": s.mailbox, "query": FormBody.encode(s.mailbox), "session": s.session, "peer": s.peer,
                  "since": formatter.string(from: s.since)]
             }]
        }
        return page("cluster", title: "Cluster", context, [
            "nodes": nodes, "nodeCount": nodes.count, "sessionCount": status.sessions.count,
            "heldCount": status.heldMailboxes.count, "delivery": status.deliveryDescription,
            "coordinators": status.coordinators.map { c -> [String: Any] in
                ["id": c.id, "state": c.active ? "active (delivers)" : (c.running ? "standby" : "not running"), "published": formatter.string(from: c.published)]
            },
        ])
    }

    func drainNode(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let node = field(context, "node"), actor = self.actor(context)
        return await change(context, back: "/cluster") { [admin] in
            let record = try admin.drainNode(node, by: actor)
            return "asked node \(record.node) to drain: it refuses new logins and exits once its \(record.sessions.count) sessions end"
        }
    }
}
