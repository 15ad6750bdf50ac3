import Foundation
import HTTPTypes
import Hummingbird
import SharedStore

/// Bearer tokens for `/api/v1` (`poplar admin-user token`): every request but the OpenAPI document carries
/// `Authorization: Bearer <token>`; the token is checked on the thread pool (one read of its record) and names the
/// administrator the request acts as. No cookie is read and no CSRF token is needed: a bearer token is never sent
/// by a browser on its own. A missing or wrong token: 401 in the API's error shape.
struct APIAuthMiddleware: RouterMiddleware {
    typealias Context = ConsoleContext
    let backend: ConsoleBackend
    static let publicPaths: Set<String> = [APIRoutes.prefix + "/openapi.yaml"]
    /// `Bearer ` and a token (80 bytes); a longer header is not read further.
    static let maxAuthorizationBytes = 256

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.publicPaths.contains(request.uri.path) { return try await next(request, context) }
        guard let header = request.headers[.authorization], header.utf8.count <= Self.maxAuthorizationBytes,
            header.lowercased().hasPrefix("bearer ")
        else {
            return APIResponse.error(.unauthorized, "unauthorized", "send Authorization: Bearer <token> (poplar admin-user token NAME)")
        }
        let token = String(header.dropFirst("bearer ".count)).trimmingCharacters(in: .whitespaces)
        let admin: String?
        do { admin = try await backend.run { [backend] in backend.admin.store.verifyAPIToken(token) } } catch { admin = nil }
        guard let name = admin else {
            return APIResponse.error(.unauthorized, "unauthorized", "the token is unknown, revoked or expired")
        }
        var context = context
        context.apiAdmin = name
        return try await next(request, context)
    }
}
