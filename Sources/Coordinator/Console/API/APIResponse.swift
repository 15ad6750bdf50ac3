import Admin
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The API's answers: JSON objects (keys sorted), and every error in one stable shape,
/// `{"error": {"code": "…", "message": "…"}}` (docs/console.md, "HTTP API"; `/api/v1/openapi.yaml`).
enum APIResponse {
    static func json(_ object: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func error(_ status: HTTPResponse.Status, _ code: String, _ message: String) -> Response {
        var response = json(["error": ["code": code, "message": message]], status: status)
        if status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer realm=\"poplar\"" }
        return response
    }

    /// An admin operation's refusal: its kind decides the status and the code.
    static func error(_ e: AdminError) -> Response {
        switch e.kind {
        case .invalid: return error(.badRequest, "invalid", e.description)
        case .notFound: return error(.notFound, "not_found", e.description)
        case .alreadyExists: return error(.conflict, "already_exists", e.description)
        case .inUse: return error(.conflict, "in_use", e.description)
        case .store: return error(.serviceUnavailable, "store_unavailable", e.description)
        }
    }

    /// What the router itself answers under the API's prefix (no route, another method, a body too large for the
    /// context), in the API's error shape rather than plain text.
    static func shaped(_ body: () async throws -> Response) async -> Response {
        do {
            let response = try await body()
            guard response.status == .notFound || response.status == .methodNotAllowed,
                response.headers[.contentType] != "application/json"
            else { return response }
            return error(response.status, response.status == .notFound ? "not_found" : "method_not_allowed", "no such API operation")
        } catch let e as HTTPError {
            switch e.status {
            case .notFound: return error(.notFound, "not_found", "no such API operation")
            case .methodNotAllowed: return error(.methodNotAllowed, "method_not_allowed", "no such API operation")
            case .contentTooLarge: return error(.contentTooLarge, "too_large", "the body is too large")
            default: return error(e.status, "bad_request", e.body ?? "the request cannot be served")
            }
        } catch {
            return APIResponse.error(.serviceUnavailable, "store_unavailable", "the request failed")
        }
    }

    static func optional(_ value: Any?) -> Any { value ?? NSNull() }

    static func time(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }
}
