import Admin
import Foundation
import Hummingbird
import SharedStore

/// The mailboxes pages: a domain's mailboxes by pages (search, cursor), add; one mailbox with password reset and
/// quota. A page reads the domain's folder listing only, never a mailbox's files (`AdminOperations.mailboxPage`).
extension ConsoleHandlers {
    func mailboxesPage(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let query = request.uri.queryParameters
        let search = String((query.get("q") ?? "").prefix(AdminLimits.maxSearchLength))
        let after = query.get("after").map { String($0.prefix(AdminLimits.maxAddressLength)) }
        let asked = query.get("domain").map { String($0.prefix(AdminLimits.maxAddressLength)) }
        do {
            let (domains, listing) = try await backend.run { [admin] () -> ([String], MailboxPage?) in
                let domains = try admin.domains()
                guard let domain = asked.flatMap({ d in domains.contains(d.lowercased()) ? d.lowercased() : nil }) ?? domains.first else {
                    return (domains, nil)
                }
                return (domains, try admin.mailboxPage(domain: domain, search: search, after: after, limit: AdminLimits.defaultPageSize))
            }
            var values: [String: Any] = [
                "domains": domains.map { ["name": $0, "selected": $0 == listing?.domain] as [String: Any] },
                "search": search, "hasSearch": !search.isEmpty,
            ]
            if let listing {
                let base = "/mailboxes?domain=\(FormBody.encode(listing.domain))&q=\(FormBody.encode(search))"
                values["domain"] = listing.domain
                values["matching"] = listing.matching
                values["mailboxes"] = listing.names.map { name -> [String: Any] in
                    let address = "\(name)@\(listing.domain)"
                    return ["address": address, "query": FormBody.encode(address)]
                }
                if let next = listing.next { values["next"] = base + "&after=" + FormBody.encode(next) }
                if after != nil { values["first"] = base }
            }
            return page("mailboxes", title: "Mailboxes", context, values)
        } catch let error as AdminError {
            return pages.page("mailboxes", title: "Mailboxes", context: context, flash: .init(text: error.description, isError: true),
                              values: ["domains": [[String: Any]]()], status: error.kind == .store ? .serviceUnavailable : .badRequest)
        }
    }

    func addMailbox(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let domain = field(context, "domain"), mailbox = field(context, "mailbox"), password = field(context, "password")
        let apop = field(context, "apop") == "1", actor = self.actor(context)
        let quota = ByteSize.parseQuota(field(context, "quota"))
        let back = "/mailboxes?domain=\(FormBody.encode(domain.lowercased()))"
        return await change(context, back: back) { [admin] in
            let limit: Int64?
            switch quota {
            case .none: limit = nil
            case .bytes(let b): limit = b
            case .invalid: throw AdminError(.invalid, "the quota is not a size (bytes, or 500M, 2G, 1.5GiB) nor none")
            }
            return "created mailbox \(try admin.addMailbox("\(mailbox)@\(domain)", password: password, allowAPOP: apop, quota: limit, by: actor))"
        }
    }

    func mailboxPage(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let address = String((request.uri.queryParameters.get("address") ?? "").prefix(AdminLimits.maxAddressLength))
        do {
            let (info, sessions) = try await backend.run { [admin] in (try admin.mailboxInfo(address), try admin.recentSessions(address)) }
            var values: [String: Any] = [
                "address": info.address.description, "domain": info.address.domain, "domainQuery": FormBody.encode(info.address.domain),
                "messages": info.messageCount, "bytes": ByteSize.describe(info.totalBytes),
                "quota": info.quota.map { "\(ByteSize.describe($0)) (\($0) bytes)" } ?? "none",
                "quotaInput": info.quota.map { "\($0)" } ?? "none",
                "apop": info.allowsAPOP ? "allowed" : "not allowed", "apopAllowed": info.allowsAPOP,
                "password": info.hasPassword ? "in the password file" : "none (external: the directory's account)",
                "hasPassword": info.hasPassword, "lock": Self.describe(info.lock),
            ]
            // The lock buttons that apply: Kick (this session only) and Force unlock for a session's lock, Unlock for
            // the administrator's, Force unlock for a take that never finished.
            switch info.lock {
            case .session(let holder): values["lockSession"] = holder.session; values["lockBreakable"] = true
            case .admin: values["lockAdmin"] = true
            case .claiming: values["lockBreakable"] = true
            case .free, .missing: break
            }
            let formatter = ISO8601DateFormatter()
            values["sessions"] = sessions.map { r -> [String: Any] in
                ["at": formatter.string(from: r.at), "node": r.node, "client": r.client, "mechanism": r.mechanism, "retrieved": r.retrieved,
                 "bytes": ByteSize.describe(r.retrievedBytes), "deleted": r.deleted, "ended": r.ended]
            }
            values["lockActions"] = values["lockSession"] != nil || values["lockAdmin"] != nil || values["lockBreakable"] != nil
            return page("mailbox", title: "Mailbox", context, values)
        } catch let error as AdminError {
            if let token = context.token { sessions.update(token) { $0.flash = .init(text: error.description, isError: true) } }
            return Pages.redirect("/mailboxes")
        }
    }

    func resetPassword(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let address = field(context, "address"), password = field(context, "password"), apop = field(context, "apop") == "1"
        let actor = self.actor(context)
        return await change(context, back: "/mailbox?address=\(FormBody.encode(address))") { [admin] in
            "password of \(try admin.resetPassword(address, password: password, allowAPOP: apop, by: actor)) changed"
        }
    }

    func setQuota(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let address = field(context, "address"), quota = ByteSize.parseQuota(field(context, "quota")), actor = self.actor(context)
        return await change(context, back: "/mailbox?address=\(FormBody.encode(address))") { [admin] in
            switch quota {
            case .none: return "quota of \(try admin.setQuota(address, nil, by: actor)): none"
            case .bytes(let b): return "quota of \(try admin.setQuota(address, b, by: actor)): \(ByteSize.describe(b))"
            case .invalid: throw AdminError(.invalid, "the quota is not a size (bytes, or 500M, 2G, 1.5GiB) nor none")
            }
        }
    }

    /// Refused while a session holds the mailbox; the form's box must be ticked.
    func removeMailbox(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let address = field(context, "address"), confirmed = field(context, "confirm") == "1", actor = self.actor(context)
        let domain = address.split(separator: "@").last.map { String($0).lowercased() } ?? ""
        guard confirmed else {
            if let token = context.token { sessions.update(token) { $0.flash = .init(text: "tick the box to remove the mailbox", isError: true) } }
            return Pages.redirect("/mailbox?address=\(FormBody.encode(address))")
        }
        return await change(context, back: "/mailboxes?domain=\(FormBody.encode(domain))") { [admin] in
            "removed mailbox \(try admin.removeMailbox(address, by: actor))"
        }
    }

    /// Back to the old mailbox's domain page, where the new name shows (or, refused, the flash says why).
    func renameMailbox(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let address = field(context, "address"), new = field(context, "new"), actor = self.actor(context)
        let domain = address.split(separator: "@").last.map { String($0).lowercased() } ?? ""
        return await change(context, back: "/mailboxes?domain=\(FormBody.encode(domain))") { [admin] in
            let r = try admin.renameMailbox(address, to: new, by: actor)
            return "renamed \(r.from) to \(r.to)"
        }
    }

    static func describe(_ lock: LockState) -> String {
        let formatter = ISO8601DateFormatter()
        switch lock {
        case .free: return "free"
        case .session(let owner): return "held by a session on node \(owner.node) since \(formatter.string(from: owner.since))"
        case .admin(let owner): return "locked by the administrator (\(owner.node)) since \(formatter.string(from: owner.since))"
        case .claiming(let owner): return "being taken" + (owner.map { " by node \($0.node)" } ?? "")
        case .missing: return "missing (no lock file: the mailbox is damaged)"
        }
    }
}
