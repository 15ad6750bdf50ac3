import Crypto
import Foundation
import Synchronization

/// A console session: before login (the login form's CSRF token only) or of an administrator. Kept in memory by
/// the console that made it (`SessionStore`); its cookie is a random token, never the name.
struct ConsoleSession: Sendable {
    var admin: String?
    /// The token every form of this session carries (`csrf` field); a POST without it is refused with 403.
    var csrf: String
    var lastSeen: Date
    /// One message for the next page (after a change's redirect).
    var flash: Flash?

    struct Flash: Sendable {
        var text: String
        var isError: Bool
    }
}

/// The sessions of one console, with idle expiry (`idle` seconds since the last request; sooner before login).
/// Login-page sessions and administrators' sessions are kept apart, each at most its own bound: anyone can make
/// login-page sessions (one per GET /login), and a flood of them only ever pushes out other login-page sessions,
/// never a logged-in administrator. Time is injected (`now`), so expiry is tested without sleeping.
final class SessionStore: Sendable {
    static let cookieName = "poplar_console"
    let idle: Double
    let now: @Sendable () -> Date
    private let sessions = Mutex<Pools>(Pools())

    /// The two pools; a token is in at most one of them.
    struct Pools {
        var loginPage: [String: ConsoleSession] = [:]
        var admins: [String: ConsoleSession] = [:]

        subscript(token: String) -> ConsoleSession? {
            get { admins[token] ?? loginPage[token] }
            set {
                admins[token] = nil
                loginPage[token] = nil
                guard let newValue else { return }
                if newValue.admin == nil { loginPage[token] = newValue } else { admins[token] = newValue }
            }
        }
    }

    init(idle: Double, now: @escaping @Sendable () -> Date = { Date() }) {
        self.idle = idle
        self.now = now
    }

    /// A new session and its token. At its pool's bound the expired go first, then the least recently used.
    func create(admin: String?) -> (token: String, session: ConsoleSession) {
        let session = ConsoleSession(admin: admin, csrf: Self.randomToken(), lastSeen: now())
        let token = Self.randomToken()
        let t = now()
        sessions.withLock { all in
            if admin == nil {
                Self.makeRoom(&all.loginPage, bound: ConsoleLimits.maxLoginPageSessions) { expired($0, at: t) }
            } else {
                Self.makeRoom(&all.admins, bound: ConsoleLimits.maxSessions) { expired($0, at: t) }
            }
            all[token] = session
        }
        return (token, session)
    }

    private static func makeRoom(_ pool: inout [String: ConsoleSession], bound: Int, expired: (ConsoleSession) -> Bool) {
        guard pool.count >= bound else { return }
        pool = pool.filter { !expired($0.value) }
        if pool.count >= bound, let oldest = pool.min(by: { $0.value.lastSeen < $1.value.lastSeen }) {
            pool[oldest.key] = nil
        }
    }

    /// The live session of a token, its idle time restarted; nil (and forgotten) when expired.
    func touch(_ token: String) -> ConsoleSession? {
        let t = now()
        return sessions.withLock { all in
            guard var session = all[token] else { return nil }
            guard !expired(session, at: t) else {
                all[token] = nil
                return nil
            }
            session.lastSeen = t
            all[token] = session
            return session
        }
    }

    func update(_ token: String, _ change: (inout ConsoleSession) -> Void) {
        sessions.withLock { all in
            guard var session = all[token] else { return }
            change(&session)
            all[token] = session
        }
    }

    /// The flash message, removed.
    func takeFlash(_ token: String) -> ConsoleSession.Flash? {
        sessions.withLock { all in
            let flash = all[token]?.flash
            all[token]?.flash = nil
            return flash
        }
    }

    func remove(_ token: String) {
        sessions.withLock { all in all[token] = nil }
    }

    var count: Int { sessions.withLock { $0.loginPage.count + $0.admins.count } }

    private func expired(_ session: ConsoleSession, at t: Date) -> Bool {
        t.timeIntervalSince(session.lastSeen) > (session.admin == nil ? min(idle, ConsoleLimits.loginPageIdleSeconds) : idle)
    }

    /// 32 random bytes, base64url without padding (a cookie value and a form field as they are).
    static func randomToken() -> String {
        let key = SymmetricKey(size: .bits256)
        return key.withUnsafeBytes { Data($0) }.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

}
