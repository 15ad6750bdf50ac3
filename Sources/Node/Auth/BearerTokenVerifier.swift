import Dispatch
import Foundation
import JWTKit
import NIOConcurrencyHelpers

/// Checks an OAuth 2.0 bearer token (OAUTHBEARER, XOAUTH2) offline: a JWT signed by a key of the configured JWKS
/// file (jwt-kit; `alg: none` and keys of another type are refused), from the configured issuer, for the configured
/// audience, not expired and already valid (both within the leeway); its user claim names the mailbox. Blocking:
/// jwt-kit's key collection is an actor, so a verification waits for it here, on the thread pool, never on an event
/// loop, bounded by `timeout`.
public final class BearerTokenVerifier: Sendable {
    public enum Verdict: Sendable, Equatable {
        /// The token is valid; the user claim's value.
        case user(String)
        /// Invalid, expired, another issuer or audience, no user claim: the reason is for the log.
        case rejected(String)
    }

    /// A JWT longer than this is refused before it is parsed (a SASL response is at most 4096 octets anyway).
    public static let maxTokenLength = 4096

    let settings: OAuthSettings
    let keys: JWTKeyCollection
    let timeout: TimeInterval

    /// Reads the JWKS file: blocking, call it from a thread pool.
    public init(settings: OAuthSettings, timeout: TimeInterval = 10) throws {
        self.settings = settings
        self.timeout = timeout
        let json: String
        do {
            json = try String(contentsOfFile: settings.jwksFile, encoding: .utf8)
        } catch {
            throw AuthSetupError("cannot read the JWKS file \(settings.jwksFile): \(error)")
        }
        let keys = JWTKeyCollection()
        let loaded = Self.wait(timeout: timeout) { try await keys.add(jwksJSON: json) }
        guard case .success = loaded else {
            throw AuthSetupError("the JWKS file \(settings.jwksFile) holds no usable key: \(Self.describe(loaded))")
        }
        self.keys = keys
    }

    public func verify(_ token: String, now: Date = Date()) -> Verdict {
        guard token.utf8.count <= Self.maxTokenLength else { return .rejected("token too long") }
        let keys = self.keys
        let result = Self.wait(timeout: timeout) { try await keys.verify(token, as: BearerClaims.self) }
        let claims: BearerClaims
        switch result {
        case .success(let c): claims = c
        case .failure(let error): return .rejected("signature or format: \(error)")
        }
        let leeway = TimeInterval(settings.leeway.nanoseconds) / 1_000_000_000
        guard let exp = claims.exp else { return .rejected("no exp claim") }
        guard exp.value.addingTimeInterval(leeway) > now else { return .rejected("expired") }
        if let nbf = claims.nbf, nbf.value.addingTimeInterval(-leeway) > now { return .rejected("not yet valid") }
        guard claims.iss?.value == settings.issuer else { return .rejected("another issuer") }
        guard let audience = claims.aud, audience.value.contains(settings.audience) else { return .rejected("another audience") }
        guard let user = claims.user(settings.userClaim), !user.isEmpty else { return .rejected("no \(settings.userClaim) claim") }
        return .user(user)
    }

    /// Runs async work to completion from a thread-pool thread (never from the cooperative pool or an event loop).
    static func wait<T: Sendable>(timeout: TimeInterval, _ body: @escaping @Sendable () async throws -> T) -> Result<T, any Error> {
        let box = NIOLockedValueBox<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let result: Result<T, any Error>
            do { result = .success(try await body()) } catch { result = .failure(error) }
            box.withLockedValue { $0 = result }
            done.signal()
        }
        guard done.wait(timeout: .now() + timeout) == .success, let result = box.withLockedValue({ $0 }) else {
            return .failure(AuthSetupError("timed out"))
        }
        return result
    }

    static func describe<T>(_ result: Result<T, any Error>) -> String {
        if case .failure(let error) = result { return "\(error)" }
        return "ok"
    }
}

/// The claims Poplar reads; the checks are made by `BearerTokenVerifier` with its settings.
struct BearerClaims: JWTPayload {
    var iss: IssuerClaim?
    var aud: AudienceClaim?
    var exp: ExpirationClaim?
    var nbf: NotBeforeClaim?
    var sub: SubjectClaim?
    var email: String?
    var preferredUsername: String?
    var upn: String?

    enum CodingKeys: String, CodingKey {
        case iss, aud, exp, nbf, sub, email, upn
        case preferredUsername = "preferred_username"
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {}

    func user(_ claim: String) -> String? {
        switch claim {
        case "email": return email
        case "sub": return sub?.value
        case "preferred_username": return preferredUsername
        case "upn": return upn
        default: return nil
        }
    }
}

public struct AuthSetupError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
