import Admin
import Foundation
import Hummingbird
import Logging
import ServerSupport

/// The console's router: security headers and sessions around every route (docs/console.md).
public enum ConsoleRoutes {
    /// The router of a console over `backend`, its sessions in `sessions`.
    static func router(backend: ConsoleBackend, sessions: SessionStore, trustedProxies: TrustedNetworks, logger: Logger) throws
        -> Router<ConsoleContext>
    {
        let pages = try Pages()
        let handlers = ConsoleHandlers(backend: backend, sessions: sessions, pages: pages, logger: logger)
        let router = Router(context: ConsoleContext.self)
        router.add(middleware: SecurityHeadersMiddleware())
        router.add(middleware: SessionMiddleware(sessions: sessions, backend: backend, trustedProxies: trustedProxies))
        router.get("/console.css") { _, _ in Pages.css() }
        router.get("/") { _, _ in Pages.redirect("/domains") }
        router.get("/login") { request, context in handlers.loginPage(request, context) }
        router.post("/login") { request, context in try await handlers.login(request, context) }
        router.post("/logout") { request, context in try await handlers.logout(request, context) }
        router.get("/domains") { request, context in try await handlers.domainsPage(request, context) }
        router.post("/domains/add") { request, context in try await handlers.addDomain(request, context) }
        router.post("/domains/remove") { request, context in try await handlers.removeDomain(request, context) }
        router.post("/domains/rename") { request, context in try await handlers.renameDomain(request, context) }
        router.get("/mailboxes") { request, context in try await handlers.mailboxesPage(request, context) }
        router.post("/mailboxes/add") { request, context in try await handlers.addMailbox(request, context) }
        router.get("/mailbox") { request, context in try await handlers.mailboxPage(request, context) }
        router.post("/mailbox/password") { request, context in try await handlers.resetPassword(request, context) }
        router.post("/mailbox/quota") { request, context in try await handlers.setQuota(request, context) }
        router.post("/mailbox/remove") { request, context in try await handlers.removeMailbox(request, context) }
        router.post("/mailbox/rename") { request, context in try await handlers.renameMailbox(request, context) }
        router.get("/cluster") { request, context in try await handlers.clusterPage(request, context) }
        router.post("/cluster/drain") { request, context in try await handlers.drainNode(request, context) }
        router.post("/mailbox/kick") { request, context in try await handlers.kick(request, context) }
        router.post("/mailbox/unlock") { request, context in try await handlers.unlock(request, context) }
        router.post("/mailbox/force-unlock") { request, context in try await handlers.forceUnlock(request, context) }
        router.get("/audit") { request, context in try await handlers.auditPage(request, context) }
        router.get("/charts") { request, context in try await handlers.chartsPage(request, context) }
        router.get("/delivery") { request, context in try await handlers.deliveryPage(request, context) }
        router.get("/delivery/badmail") { request, context in try await handlers.badmailPage(request, context) }
        router.post("/delivery/retry") { request, context in try await handlers.retryBadmail(request, context) }
        router.post("/delivery/delete") { request, context in try await handlers.deleteBadmail(request, context) }
        APIRoutes.add(to: router, backend: backend)
        return router
    }
}

/// The handlers of the console's pages and forms. Every store call and password check runs on the backend's
/// thread pool. A change answers with a redirect (303) to the page it was made from, with a flash message.
struct ConsoleHandlers: Sendable {
    let backend: ConsoleBackend
    let sessions: SessionStore
    let pages: Pages
    let logger: Logger

    var admin: AdminOperations { backend.admin }

    func actor(_ context: ConsoleContext) -> AdminActor {
        AdminActor(who: context.admin, from: context.peer)
    }

    /// The page of a GET with the session's flash message taken.
    func page(_ template: String, title: String, _ context: ConsoleContext, _ values: [String: Any],
              status: HTTPResponse.Status = .ok) -> Response {
        let flash = context.token.flatMap { sessions.takeFlash($0) }
        return pages.page(template, title: title, context: context, flash: flash, values: values, status: status)
    }

    /// Runs a change on the thread pool; its outcome becomes the flash message of the page `back` redirects to.
    func change(_ context: ConsoleContext, back: String, _ body: @escaping @Sendable () throws -> String) async -> Response {
        let flash: ConsoleSession.Flash
        do {
            flash = .init(text: try await backend.run(body), isError: false)
        } catch let error as AdminError {
            flash = .init(text: error.description, isError: true)
        } catch {
            logger.error("console change failed", metadata: ["console.error": "\(error)"])
            flash = .init(text: "the change failed: \(error)", isError: true)
        }
        if let token = context.token { sessions.update(token) { $0.flash = flash } }
        return Pages.redirect(back)
    }

    /// A form field, or "" (the form is already bounded by `ConsoleLimits`).
    func field(_ context: ConsoleContext, _ name: String) -> String { context.form[name] ?? "" }
}
