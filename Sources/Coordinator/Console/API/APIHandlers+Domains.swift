import Admin
import Foundation
import Hummingbird
import SharedStore

extension APIHandlers {
    func domains(_ r: APIRequest) async throws -> Response {
        let policies = try await op { try $0.domainPolicies() }
        return APIResponse.json(["domains": policies.keys.sorted().map { name -> [String: Any] in
            let p = policies[name]!
            return ["name": name, "login-delay": p.loginDelay, "expire-days": APIResponse.optional(p.expireDays), "reconnect-wins": p.reconnectWins]
        }])
    }

    func addDomain(_ r: APIRequest) async throws -> Response {
        let name = try await r.body().string("name")!, actor = r.actor
        let added = try await op { try $0.addDomain(name, by: actor) }
        return APIResponse.json(["name": added], status: .created)
    }

    func removeDomain(_ r: APIRequest) async throws -> Response {
        let name = r.parameter("domain"), actor = r.actor
        let purge: Bool
        switch r.query("purge") {
        case nil, "false": purge = false
        case "true": purge = true
        default: throw JSONBody.refusal("purge must be true or false")
        }
        let removed = try await op { try $0.removeDomain(name, purge: purge, by: actor) }
        return APIResponse.json(["name": removed, "purged": purge])
    }

    func renameDomain(_ r: APIRequest) async throws -> Response {
        let name = r.parameter("domain"), to = try await r.body().string("to")!, actor = r.actor
        let done = try await op { try $0.renameDomain(name, to: to, by: actor) }
        return APIResponse.json(["from": done.from, "to": done.to, "moved": done.moved])
    }

    func mailboxes(_ r: APIRequest) async throws -> Response {
        let domain = r.parameter("domain"), search = r.query("search") ?? "", after = r.query("after")
        let limit: Int
        if let text = r.query("limit") {
            guard let n = Int(text), (1...AdminLimits.maxPageSize).contains(n) else {
                throw JSONBody.refusal("limit must be 1 to \(AdminLimits.maxPageSize)")
            }
            limit = n
        } else {
            limit = AdminLimits.defaultPageSize
        }
        let page = try await op { try $0.mailboxPage(domain: domain, search: search, after: after, limit: limit) }
        return APIResponse.json(["domain": page.domain, "mailboxes": page.names.map { "\($0)@\(page.domain)" }, "matching": page.matching,
                                 "next": APIResponse.optional(page.next)])
    }

    func cluster(_ r: APIRequest) async throws -> Response {
        let status = try await op { try $0.clusterStatus() }
        return APIResponse.json(["nodes": status.nodes.map { n -> [String: Any] in
            ["node": n.node, "address": n.address, "version": n.version, "draining": n.draining, "silent": n.isSilent(now: status.read),
             "updated": APIResponse.time(n.updated),
             "sessions": n.sessions.sorted { $0.mailbox < $1.mailbox }.map { s -> [String: Any] in
                 ["mailbox": s.mailbox, "session": s.session, "peer": s.peer, "since": APIResponse.time(s.since)]
             }]
        }, "delivery-coordinator": APIResponse.optional(status.activeCoordinator),
           "coordinators": status.coordinators.map { c -> [String: Any] in
               ["id": c.id, "active": c.active, "running": c.running, "published": APIResponse.time(c.published)]
           }])
    }

    func drain(_ r: APIRequest) async throws -> Response {
        let node = r.parameter("node"), actor = r.actor
        let record = try await op { try $0.drainNode(node, by: actor) }
        return APIResponse.json(["node": record.node, "sessions": record.sessions.count])
    }

    func delivery(_ r: APIRequest) async throws -> Response {
        let status = try await op { try $0.deliveryStatus() }
        return APIResponse.json(["pickup-waiting": status.pickupWaiting, "oldest-waiting": APIResponse.optional(status.oldestWaiting.map(APIResponse.time)),
                                 "badmail": status.badmail.map { e -> [String: Any] in
                                     ["name": e.name, "size": e.size, "modified": APIResponse.time(e.modified), "reason": e.reason]
                                 }])
    }

    func retryBadmail(_ r: APIRequest) async throws -> Response {
        let name = r.parameter("name"), actor = r.actor
        try await op { try $0.retryBadmail(name, by: actor) }
        return APIResponse.json(["name": name])
    }

    func deleteBadmail(_ r: APIRequest) async throws -> Response {
        let name = r.parameter("name"), actor = r.actor
        try await op { try $0.deleteBadmail(name, by: actor) }
        return APIResponse.json(["name": name])
    }

    func audit(_ r: APIRequest) async throws -> Response {
        var limit = 50
        if let text = r.query("limit") {
            guard let n = Int(text), (1...MailStore.maxAuditRead).contains(n) else { throw JSONBody.refusal("limit must be 1 to \(MailStore.maxAuditRead)") }
            limit = n
        }
        let entries = try await op { [limit] in try $0.recentAudit(limit: limit) }
        return APIResponse.json(["entries": entries.map { e -> [String: Any] in
            ["time": APIResponse.time(e.time), "who": e.who, "from": e.from, "action": e.action, "target": e.target, "detail": e.detail]
        }])
    }
}
