import Admin
import Foundation
import Hummingbird
import SharedStore

/// The delivery page (the seed's pickup and Badmail folders): what waits in pickup; Badmail's messages with their
/// reasons, each to look at, retry (back into pickup) or delete.
extension ConsoleHandlers {
    func deliveryPage(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let status: AdminOperations.DeliveryStatus
        do {
            status = try await backend.run { [admin] in try admin.deliveryStatus() }
        } catch let error as AdminError {
            return pages.page("delivery", title: "Delivery", context: context, flash: .init(text: error.description, isError: true),
                              values: ["badmail": [[String: Any]](), "waiting": 0, "count": 0], status: .serviceUnavailable)
        }
        let formatter = ISO8601DateFormatter()
        let rows: [[String: Any]] = status.badmail.map { e in
            ["name": e.name, "query": FormBody.encode(e.name), "size": ByteSize.describe(e.size), "when": formatter.string(from: e.modified),
             "reason": String(e.reason.prefix(300))]
        }
        var values: [String: Any] = ["waiting": status.pickupWaiting, "one": status.pickupWaiting == 1, "badmail": rows, "count": rows.count]
        if let oldest = status.oldestWaiting { values["oldest"] = formatter.string(from: oldest) }
        return page("delivery", title: "Delivery", context, values)
    }

    func badmailPage(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let name = String((request.uri.queryParameters.get("name") ?? "").prefix(255))
        do {
            let m = try await backend.run { [admin] in try admin.badmailMessage(name) }
            return page("badmail", title: "Badmail", context, [
                "name": name, "reason": m.reason, "text": String(decoding: m.bytes, as: UTF8.self), "truncated": m.truncated,
                "shown": ByteSize.describe(Int64(m.bytes.count)),
            ])
        } catch let error as AdminError {
            if let token = context.token { sessions.update(token) { $0.flash = .init(text: error.description, isError: true) } }
            return Pages.redirect("/delivery")
        }
    }

    func retryBadmail(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let name = field(context, "name"), actor = self.actor(context)
        return await change(context, back: "/delivery") { [admin] in
            try admin.retryBadmail(name, by: actor)
            return "put \(name) back into pickup: the coordinator delivers it at its next scan"
        }
    }

    func deleteBadmail(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let name = field(context, "name"), actor = self.actor(context)
        return await change(context, back: "/delivery") { [admin] in
            try admin.deleteBadmail(name, by: actor)
            return "deleted \(name) from Badmail"
        }
    }
}
