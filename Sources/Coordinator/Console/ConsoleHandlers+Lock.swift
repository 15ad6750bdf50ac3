import Admin
import Foundation
import Hummingbird
import SharedStore

/// The mailbox page's lock buttons: Kick (end the holding session on its node), Unlock (the administrator's lock),
/// Force unlock (a dead holder's lock: waits one lease on the thread pool). Each audited by the admin library.
extension ConsoleHandlers {
    func kick(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let address = field(context, "address"), session = field(context, "session"), actor = self.actor(context)
        return await change(context, back: "/mailbox?address=\(FormBody.encode(address))") { [admin] in
            guard let holder = try admin.kick(address, session: session.isEmpty ? nil : session, by: actor) else {
                return "\(address) is not held by a session"
            }
            return "asked node \(holder.node) to end session \(holder.session): it does at its next registry update"
        }
    }

    func unlock(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let address = field(context, "address"), actor = self.actor(context)
        return await change(context, back: "/mailbox?address=\(FormBody.encode(address))") { [admin] in
            "unlocked \(try admin.unlock(address, by: actor))"
        }
    }

    func forceUnlock(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let address = field(context, "address"), actor = self.actor(context)
        return await change(context, back: "/mailbox?address=\(FormBody.encode(address))") { [admin] in
            let broke = try admin.forceUnlock(address, by: actor, holder: "console-" + actor.who) { Thread.sleep(forTimeInterval: $0) }
            return broke ? "unlocked \(address) (its holder showed no life for one lease)" : "\(address) was not locked"
        }
    }
}
