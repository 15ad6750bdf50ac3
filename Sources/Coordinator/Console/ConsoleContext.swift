import Hummingbird
import NIOCore

/// A console request's context: the peer's address (for the audit log and the auth penalty), and what
/// `SessionMiddleware` found: the session, its token, and the form of a POST (CSRF token checked).
struct ConsoleContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?
    /// The client: the peer, or the address a trusted proxy forwarded (`ClientAddress`); set by `SessionMiddleware`.
    var client: SocketAddress?
    var session: ConsoleSession?
    var token: String?
    var form: [String: String] = [:]
    /// The administrator an API request's bearer token names (`APIAuthMiddleware`).
    var apiAdmin: String?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        client = remoteAddress
    }

    var maxUploadSize: Int { ConsoleLimits.maxBodyBytes }

    /// The client's address as text ("" when unknown).
    var peer: String { client?.ipAddress ?? "" }

    /// The logged-in administrator (the session middleware lets no other request reach a page but the login).
    var admin: String { session?.admin ?? "" }
}
