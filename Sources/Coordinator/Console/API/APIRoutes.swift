import Admin
import Foundation
import Hummingbird
import SharedStore

/// The HTTP API under `/api/v1` (issue 17 item 4): the console's operations as JSON, for scripts and tools, each
/// calling the same `AdminOperations` as the pages and the CLI (audited as the token's administrator). The document
/// is `/api/v1/openapi.yaml` (`OpenAPIDocument`).
enum APIRoutes {
    static let prefix = "/api/v1"

    static func add(to router: Router<ConsoleContext>, backend: ConsoleBackend) {
        let api = router.group(RouterPath(prefix)).add(middleware: APIAuthMiddleware(backend: backend))
        let h = APIHandlers(backend: backend)
        api.get("openapi.yaml") { _, _ in OpenAPIDocument.response() }
        api.get("domains") { r, c in await h.run(r, c, h.domains) }
        api.post("domains") { r, c in await h.run(r, c, h.addDomain) }
        api.delete("domains/:domain") { r, c in await h.run(r, c, h.removeDomain) }
        api.post("domains/:domain/rename") { r, c in await h.run(r, c, h.renameDomain) }
        api.get("domains/:domain/mailboxes") { r, c in await h.run(r, c, h.mailboxes) }
        api.post("mailboxes") { r, c in await h.run(r, c, h.addMailbox) }
        api.get("mailboxes/:address") { r, c in await h.run(r, c, h.mailbox) }
        api.delete("mailboxes/:address") { r, c in await h.run(r, c, h.removeMailbox) }
        api.put("mailboxes/:address/password") { r, c in await h.run(r, c, h.setPassword) }
        api.put("mailboxes/:address/quota") { r, c in await h.run(r, c, h.setQuota) }
        api.post("mailboxes/:address/kick") { r, c in await h.run(r, c, h.kick) }
        api.post("mailboxes/:address/unlock") { r, c in await h.run(r, c, h.unlock) }
        api.get("cluster") { r, c in await h.run(r, c, h.cluster) }
        api.post("nodes/:node/drain") { r, c in await h.run(r, c, h.drain) }
        api.get("audit") { r, c in await h.run(r, c, h.audit) }
        api.get("delivery") { r, c in await h.run(r, c, h.delivery) }
        api.post("badmail/:name/retry") { r, c in await h.run(r, c, h.retryBadmail) }
        api.delete("badmail/:name") { r, c in await h.run(r, c, h.deleteBadmail) }

    }
}

/// The API's handlers: each reads its input, runs one admin operation on the thread pool and answers JSON; a
/// refusal of any kind is the API's error shape (`APIResponse`), never an HTML page.
struct APIHandlers: Sendable {
    let backend: ConsoleBackend
    var admin: AdminOperations { backend.admin }

    typealias Handler = @Sendable (APIRequest) async throws -> Response

    func run(_ request: Request, _ context: ConsoleContext, _ handler: Handler) async -> Response {
        do {
            return try await handler(APIRequest(request: request, context: context))
        } catch let refusal as APIRequest.Refusal {
            return refusal.response
        } catch let error as AdminError {
            return APIResponse.error(error)
        } catch {
            return APIResponse.error(.serviceUnavailable, "store_unavailable", "the operation failed: \(error)")
        }
    }

    /// `body` on the thread pool.
    func op<T: Sendable>(_ body: @escaping @Sendable (AdminOperations) throws -> T) async throws -> T {
        try await backend.run { [admin] in try body(admin) }
    }
}
