import Foundation
import HTTPTypes
import Hummingbird
import ServerSupport
import SharedStore

/// Sessions and CSRF (docs/console.md, "Security model"): finds the session of the cookie; sends a request
/// without a logged-in session to the login page (303), except the login page itself and the style sheet; reads
/// the form of a POST (at most `ConsoleLimits.maxBodyBytes`) and refuses it with 403 unless its `csrf` field is the
/// session's token. A session whose administrator was removed ends at its next request.
struct SessionMiddleware: RouterMiddleware {
    typealias Context = ConsoleContext
    let sessions: SessionStore
    let backend: ConsoleBackend
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    let trustedProxies: TrustedNetworks

    static let publicPaths: Set<String> = ["/login", "/console.css"]
    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.client = ClientAddress.resolve(peer: context.remoteAddress, forwardedFor: request.headers[Self.forwardedFor],
                                               trusted: trustedProxies)
        let path = request.uri.path
        // The HTTP API authenticates with bearer tokens, not with the console's cookie (APIAuthMiddleware).
        if path == APIRoutes.prefix || path.hasPrefix(APIRoutes.prefix + "/") { return await APIResponse.shaped { try await next(request, context) } }
        if let token = request.cookies[SessionStore.cookieName]?.value, let session = sessions.touch(token) {
            if let admin = session.admin {
                // Fails closed: a store that cannot say the administrator is there ends the session too.
                let exists = (try? await backend.run { try backend.admin.adminExists(admin) }) ?? false
                if !exists {
                    sessions.remove(token)
                    return Pages.redirect("/login")
                }
            }
            context.session = session
            context.token = token
        }
        let loggedIn = context.session?.admin != nil
        if !loggedIn && !Self.publicPaths.contains(path) {
            return Pages.redirect("/login")
        }
        if request.method == .post {
            let contentType = request.headers[.contentType] ?? ""
            guard contentType.lowercased().hasPrefix("application/x-www-form-urlencoded") else {
                return Pages.plain(.unsupportedMediaType, "a form is expected")
            }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: ConsoleLimits.maxBodyBytes)
            } catch {
                return Pages.plain(.contentTooLarge, "the form is too large")
            }
            guard let form = FormBody.parse(String(buffer: body)) else {
                return Pages.plain(.badRequest, "the form cannot be read")
            }
            guard let session = context.session, let sent = form["csrf"], ConstantTime.equal(sent, session.csrf) else {
                return Pages.plain(.forbidden, "the form's CSRF token is missing or wrong: reload the page and try again")
            }
            context.form = form
        }
        return try await next(request, context)
    }
}
