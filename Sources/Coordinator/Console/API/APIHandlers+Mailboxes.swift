import Admin
import Foundation
import Hummingbird
import SharedStore

extension APIHandlers {
    func addMailbox(_ r: APIRequest) async throws -> Response {
        let body = try await r.body(), actor = r.actor
        let address = try body.string("address")!, password = try body.string("password", required: false)
        let apop = try body.bool("apop"), quota = try Self.quota(body.string("quota", required: false) ?? "none")
        let added = try await op { try $0.addMailbox(address, password: password, allowAPOP: apop, quota: quota, by: actor) }
        return try await describe(added.description, status: .created)
    }

    func mailbox(_ r: APIRequest) async throws -> Response {
        try await describe(r.parameter("address"))
    }

    func removeMailbox(_ r: APIRequest) async throws -> Response {
        let address = r.parameter("address"), actor = r.actor
        let removed = try await op { try $0.removeMailbox(address, by: actor) }
        return APIResponse.json(["address": removed.description])
    }

    func setPassword(_ r: APIRequest) async throws -> Response {
        let body = try await r.body(), address = r.parameter("address"), actor = r.actor
        let password = try body.string("password")!, apop = try body.bool("apop")
        let changed = try await op { try $0.resetPassword(address, password: password, allowAPOP: apop, by: actor) }
        return APIResponse.json(["address": changed.description])
    }

    func setQuota(_ r: APIRequest) async throws -> Response {
        let address = r.parameter("address"), quota = try Self.quota(try await r.body().string("quota")!), actor = r.actor
        let changed = try await op { try $0.setQuota(address, quota, by: actor) }
        return APIResponse.json(["address": changed.description, "quota": APIResponse.optional(quota)])
    }

    func kick(_ r: APIRequest) async throws -> Response {
        let address = r.parameter("address"), session = try await r.body().string("session", required: false), actor = r.actor
        guard let holder = try await op({ try $0.kick(address, session: session, by: actor) }) else {
            return APIResponse.json(["kicked": false])
        }
        return APIResponse.json(["kicked": true, "node": holder.node, "session": holder.session])
    }

    func unlock(_ r: APIRequest) async throws -> Response {
        let address = r.parameter("address"), actor = r.actor
        let done = try await op { try $0.unlock(address, by: actor) }
        return APIResponse.json(["address": done.description])
    }

    /// "none", or a size with units (`500M`, `2G`): the console's form and the CLI take the same.
    static func quota(_ text: String) throws -> Int64? {
        switch ByteSize.parseQuota(text) {
        case .none: return nil
        case .bytes(let b): return b
        case .invalid: throw JSONBody.refusal("quota is not a size (bytes, or 500M, 2G, 1.5GiB) nor none")
        }
    }

    private func describe(_ address: String, status: HTTPResponse.Status = .ok) async throws -> Response {
        let info = try await op { try $0.mailboxInfo(address) }
        var lock: [String: Any] = ["state": "free"]
        switch info.lock {
        case .free: break
        case .missing: lock["state"] = "missing"
        case .claiming(let owner): lock["state"] = "claiming"; if let owner { lock["node"] = owner.node }
        case .admin(let owner): lock = ["state": "admin", "node": owner.node, "since": APIResponse.time(owner.since)]
        case .session(let owner): lock = ["state": "session", "node": owner.node, "session": owner.session, "since": APIResponse.time(owner.since)]
        }
        return APIResponse.json(["address": info.address.description, "messages": info.messageCount, "bytes": info.totalBytes,
                                 "quota": APIResponse.optional(info.quota), "apop": info.allowsAPOP, "password": info.hasPassword, "lock": lock],
                                status: status)
    }
}
