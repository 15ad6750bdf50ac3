import Admin
import Foundation
import Hummingbird
import Node

/// The login form and logout. A login goes through the cluster-wide auth penalty the POP3 nodes use
/// (`AuthPenalty`, docs/security.md): its check waits for its slot, a failure is answered after the penalty's
/// delay, and a network that keeps failing is refused unchecked.
extension ConsoleHandlers {
    func loginPage(_ request: Request, _ context: ConsoleContext) -> Response {
        var context = context
        if context.session?.admin != nil { return Pages.redirect("/domains") }
        var cookie: Cookie?
        if context.session == nil {
            let (token, session) = sessions.create(admin: nil)
            context.session = session
            context.token = token
            cookie = sessionCookie(token)
        }
        var response = page("login", title: "Log in", context, [:])
        if let cookie { response.setCookie(cookie) }
        return response
    }

    func login(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let name = field(context, "name"), password = field(context, "password")
        let started = Date()
        let network = backend.penalty.network(of: context.client) ?? (context.client == nil ? "net:unknown" : nil)
        let admission = try await backend.run { [backend] in
            try? backend.penalty.admit(network: network, user: "console:" + name.lowercased(), now: started)
        }
        if case .refuse = admission {
            return failedLogin(context, "too many failed logins from your address: try again later", status: .tooManyRequests)
        }
        var ticket: AuthPenalty.Ticket?
        if case .check(let t) = admission {
            ticket = t
            let wait = t.slot.timeIntervalSince(Date())
            if wait > 0 { try await Task.sleep(nanoseconds: UInt64(wait * 1e9)) }
        }
        let checkStarted = Date()
        let ok = try await backend.run { [backend] in backend.admin.verifyAdmin(name, password: password) }
        if let ticket {
            try? await backend.run { [backend] in ok ? try backend.penalty.succeeded(ticket) : try backend.penalty.failed(ticket) }
        }
        guard ok else {
            let delay = (ticket?.failureDelay ?? 0) - Date().timeIntervalSince(checkStarted)
            if delay > 0 { try await Task.sleep(nanoseconds: UInt64(delay * 1e9)) }
            logger.info("console login failed", metadata: ["console.peer": "\(context.peer)"])
            return failedLogin(context, "wrong name or password", status: .unauthorized)
        }
        // A new session (and token) at login: a token seen before login is never a logged-in one.
        if let old = context.token { sessions.remove(old) }
        let (token, _) = sessions.create(admin: name.lowercased())
        let actor = AdminActor(who: name.lowercased(), from: context.peer)
        try? await backend.run { [backend] in try backend.admin.auditSession(actor, "login") }
        var response = Pages.redirect("/domains")
        response.setCookie(sessionCookie(token))
        return response
    }

    func failedLogin(_ context: ConsoleContext, _ text: String, status: HTTPResponse.Status) -> Response {
        pages.page("login", title: "Log in", context: context, flash: .init(text: text, isError: true), values: [:], status: status)
    }

    func logout(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        if let token = context.token { sessions.remove(token) }
        let actor = self.actor(context)
        try? await backend.run { [backend] in try backend.admin.auditSession(actor, "logout") }
        var response = Pages.redirect("/login")
        response.setCookie(Cookie(name: SessionStore.cookieName, value: "", maxAge: 0, path: "/", secure: true, httpOnly: true, sameSite: .strict))
        return response
    }

    /// The session cookie: HttpOnly, Secure, SameSite=Strict, for the whole console, without an expiry (the
    /// session's idle expiry is the server's).
    func sessionCookie(_ token: String) -> Cookie {
        Cookie(name: SessionStore.cookieName, value: token, path: "/", secure: true, httpOnly: true, sameSite: .strict)
    }
}
