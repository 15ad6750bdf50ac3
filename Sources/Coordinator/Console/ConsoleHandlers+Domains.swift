import Admin
import Hummingbird
import SharedStore

/// The domains page: list, add, remove (with or without the mail).
extension ConsoleHandlers {
    func domainsPage(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let policies: [String: DomainPolicy]
        do {
            policies = try await backend.run { [admin] in try admin.domainPolicies() }
        } catch let error as AdminError {
            // The store cannot be read: the page says why, with no domain listed.
            return pages.page("domains", title: "Domains", context: context, flash: .init(text: error.description, isError: true),
                              values: ["domains": [[String: Any]]()], status: .serviceUnavailable)
        }
        let rows: [[String: Any]] = policies.keys.sorted().map { name in
            let p = policies[name] ?? .none
            return ["name": name, "query": FormBody.encode(name), "loginDelay": "\(p.loginDelay) s",
                    "expire": p.expireDays.map { "\($0) days" } ?? "never"]
        }
        return page("domains", title: "Domains", context, ["domains": rows])
    }

    func addDomain(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let name = field(context, "name"), actor = self.actor(context)
        return await change(context, back: "/domains") { [admin] in
            "added domain \(try admin.addDomain(name, by: actor))"
        }
    }

    func removeDomain(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let name = field(context, "name"), purge = field(context, "purge") == "1", actor = self.actor(context)
        return await change(context, back: "/domains") { [admin] in
            let d = try admin.removeDomain(name, purge: purge, by: actor)
            return purge ? "removed domain \(d) and deleted its mail" : "removed domain \(d) (its mail is kept)"
        }
    }

    func renameDomain(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let name = field(context, "name"), new = field(context, "new"), actor = self.actor(context)
        return await change(context, back: "/domains") { [admin] in
            let r = try admin.renameDomain(name, to: new, by: actor)
            return "renamed domain \(r.from) to \(r.to) (\(r.moved) mailbox\(r.moved == 1 ? "" : "es") moved)"
        }
    }
}
