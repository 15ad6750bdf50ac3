import Admin
import Foundation
import Hummingbird
import NIOCore

/// What an API handler reads: path parameters (percent-decoded), query items, and a JSON object body of at most
/// `ConsoleLimits.maxBodyBytes` whose fields have the types the OpenAPI document gives them.
struct APIRequest {
    let request: Request
    let context: ConsoleContext

    /// A refusal already shaped as the API's error.
    struct Refusal: Error {
        let response: Response
    }

    func parameter(_ name: String) -> String {
        let raw = context.parameters.get(name) ?? ""
        return raw.removingPercentEncoding ?? raw
    }

    func query(_ name: String) -> String? {
        request.uri.queryParameters.get(name)
    }

    /// The body as a JSON object; a request without a body reads as `{}`.
    func body() async throws -> JSONBody {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: ConsoleLimits.maxBodyBytes)
        } catch {
            throw Refusal(response: APIResponse.error(.contentTooLarge, "too_large", "the body is larger than \(ConsoleLimits.maxBodyBytes) bytes"))
        }
        if buffer.readableBytes == 0 { return JSONBody(fields: [:]) }
        let type = (request.headers[.contentType] ?? "").lowercased()
        guard type.hasPrefix("application/json") else {
            throw Refusal(response: APIResponse.error(.unsupportedMediaType, "unsupported_media_type", "send application/json"))
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any] else {
            throw Refusal(response: APIResponse.error(.badRequest, "bad_request", "the body is not a JSON object"))
        }
        return JSONBody(fields: object)
    }

    /// Who acts, for the audit log: the token's administrator from the client's address.
    var actor: AdminActor { AdminActor(who: context.apiAdmin ?? "", from: context.peer) }
}

/// A JSON object's fields, typed on reading: a field of another type is a 400, never a trap.
struct JSONBody {
    let fields: [String: Any]

    func string(_ name: String, required: Bool = true) throws -> String? {
        guard let value = fields[name], !(value is NSNull) else {
            if required { throw Self.refusal("\(name) is required") }
            return nil
        }
        guard let text = value as? String else { throw Self.refusal("\(name) must be a string") }
        return text
    }

    func bool(_ name: String) throws -> Bool {
        guard let value = fields[name], !(value is NSNull) else { return false }
        // JSONSerialization reads true, false and numbers all as NSNumber: a boolean's type code is "c".
        guard let number = value as? NSNumber, String(cString: number.objCType) == "c" else { throw Self.refusal("\(name) must be true or false") }
        return number.boolValue
    }

    static func refusal(_ text: String) -> APIRequest.Refusal {
        APIRequest.Refusal(response: APIResponse.error(.badRequest, "invalid", text))
    }
}
