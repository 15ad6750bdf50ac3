import HTTPTypes
import Hummingbird

/// The security headers on every response, errors and redirects included (docs/console.md, "Security model"):
/// no script at all (the console has none), styles from itself only, no framing, no MIME sniffing, no referrer,
/// HTTPS only, nothing cached.
struct SecurityHeadersMiddleware: RouterMiddleware {
    typealias Context = ConsoleContext

    static let contentSecurityPolicy =
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    static let headers: [(HTTPField.Name, String)] = [
        (HTTPField.Name("Content-Security-Policy")!, contentSecurityPolicy),
        (HTTPField.Name("X-Frame-Options")!, "DENY"),
        (HTTPField.Name("X-Content-Type-Options")!, "nosniff"),
        (HTTPField.Name("Referrer-Policy")!, "no-referrer"),
        (HTTPField.Name("Strict-Transport-Security")!, "max-age=31536000"),
        (HTTPField.Name("Cache-Control")!, "no-store"),
        (HTTPField.Name("Cross-Origin-Opener-Policy")!, "same-origin"),
    ]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as HTTPError {
            response = Pages.plain(error.status, error.body ?? error.status.reasonPhrase)
        } catch {
            context.logger.error("console request failed", metadata: ["console.error": "\(error)"])
            response = Pages.plain(.internalServerError, "internal error")
        }
        for (name, value) in Self.headers { response.headers[name] = value }
        return response
    }
}
