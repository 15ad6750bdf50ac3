import Foundation
import Logging
import Metrics
import POP3Core
import SharedStore

/// A login: the name must be a mailbox in an accepted domain, the `AuthBackend` (password file, LDAP, PAM) must
/// accept the credentials, and then the mailbox lock is taken. Every method blocks (store calls, the slow hash, the
/// directory): the session runs them on the thread pool, never on an event loop. A directory or store that cannot
/// answer is `[SYS/TEMP]`, never a wrong password.
public final class Authenticator: Sendable {
    public let store: MailStore
    public let nodeID: String
    public let backend: any AuthBackend
    /// OAUTHBEARER and XOAUTH2 tokens; nil when not configured.
    public let bearer: BearerTokenVerifier?
    /// The cluster-wide auth penalty; nil when turned off.
    public let penalty: AuthPenalty?
    /// `auth.autocreate`: a directory account's mailbox is created at its first successful login.
    public let autocreate: Bool
    /// Reconnect wins: how long a login waits for the session it asked to end to give the lock back (the holder's
    /// node sees the request at its next registry beat, 2 s by default, and releases at once).
    public let reconnectWait: TimeInterval

    public init(store: MailStore, nodeID: String, backend: any AuthBackend, bearer: BearerTokenVerifier? = nil,
                penalty: AuthPenalty? = nil, autocreate: Bool = false, reconnectWait: TimeInterval = 8) {
        self.autocreate = autocreate
        self.reconnectWait = reconnectWait
        self.store = store
        self.nodeID = nodeID
        self.backend = backend
        self.bearer = bearer
        self.penalty = penalty
    }

    /// The password-file backend with its login cache (today's default).
    public convenience init(store: MailStore, nodeID: String, cache: LoginCache) {
        self.init(store: store, nodeID: nodeID, backend: PasswdBackend(store: store, cache: cache))
    }

    /// The result of a login: what the client is told, and the held mailbox on success.
    public struct Result: Sendable {
        public var outcome: POP3AuthOutcome
        public var session: MailboxSession?
        /// A bounded label for metrics and logs: success, bad-credentials, in-use, locked, temporary, …
        public var label: String
        /// For the log only, on a temporary failure: what failed in the store or the directory (never a secret).
        public var detail: String? = nil
        /// On success: the domain's LOGIN-DELAY and EXPIRE, for CAPA after login.
        public var policy: DomainPolicy? = nil
    }

    public func authenticate(_ credentials: POP3Credentials, sessionID: String) -> Result {
        if case .bearer(let named, let token) = credentials {
            return authenticateBearer(named: named, token: token, sessionID: sessionID)
        }
        let user = credentials.loginName ?? ""
        do {
            guard let address = try? MailboxAddress(parsing: user), try store.isDomainAccepted(address.domain) else {
                // Invalid name or a domain not accepted: the same work as a real check, so the answer and its timing
                // do not tell a wrong password from a missing mailbox.
                backend.burnEquivalentWork(credentials)
                return Result(outcome: .badCredentials, session: nil, label: "bad-credentials")
            }
            switch backend.verify(credentials, address: address) {
            case .accepted:
                if autocreate { try createExternalMailboxIfMissing(address) }
                return try openMailbox(address, sessionID: sessionID)
            case .rejected:
                return Result(outcome: .badCredentials, session: nil, label: "bad-credentials")
            case .unavailable(let why):
                return Result(outcome: .temporaryFailure("account directory unavailable, try again later"), session: nil,
                              label: "temporary", detail: "\(backend.name): \(why)")
            }
        } catch let error as StoreError {
            return Result(outcome: .temporaryFailure(Self.temporaryText(error)), session: nil, label: "temporary", detail: error.message)
        } catch {
            return Result(outcome: .temporaryFailure("mail store unavailable"), session: nil, label: "temporary", detail: "\(error)")
        }
    }

    /// RFC 5802: the keys the machine checks a SCRAM proof with. Only the password file has them; for a name that is
    /// no mailbox in an accepted domain the backend answers with decoy keys, so the exchange looks the same.
    public func scramKeys(user: String) -> SCRAMLookup {
        guard let passwd = backend as? PasswdBackend else { return .unavailable("SCRAM is not available") }
        do {
            guard let address = try? MailboxAddress(parsing: user), try store.isDomainAccepted(address.domain) else {
                return passwd.scramKeys(user: user, address: nil)
            }
            return passwd.scramKeys(user: user, address: address)
        } catch let error as StoreError {
            return .unavailable(Self.temporaryText(error))
        } catch {
            return .unavailable("mail store unavailable, try again later")
        }
    }

    /// RFC 7628: the token names the mailbox (its user claim); a name the client gave must be the same mailbox. The
    /// mailbox must exist, whatever the account directory (password file, LDAP, PAM).
    private func authenticateBearer(named: String?, token: String, sessionID: String) -> Result {
        let refused = Result(outcome: .badCredentials, session: nil, label: "bad-credentials")
        guard let bearer else { return refused }
        guard case .user(let claimed) = bearer.verify(token), let address = try? MailboxAddress(parsing: claimed) else {
            return refused
        }
        if let named, (try? MailboxAddress(parsing: named)) != address { return refused }
        do {
            guard try store.isDomainAccepted(address.domain) else { return refused }
            return try openMailbox(address, sessionID: sessionID)
        } catch let error as StoreError {
            return Result(outcome: .temporaryFailure(Self.temporaryText(error)), session: nil, label: "temporary", detail: error.message)
        } catch {
            return Result(outcome: .temporaryFailure("mail store unavailable"), session: nil, label: "temporary", detail: "\(error)")
        }
    }

    private func openMailbox(_ address: MailboxAddress, sessionID: String) throws -> Result {
        let policy = try store.domainPolicy(address.domain) ?? .none
        let now = Date()
        if policy.loginDelay > 0, let wait = try loginDelayRemaining(address, policy: policy, now: now) {
            return Result(outcome: .loginDelay("minimum time between logins not reached, try again in \(wait) s"), session: nil,
                          label: "login-delay")
        }
        let take = { [store, nodeID] in
            try store.openSession(address, node: nodeID, session: sessionID,
                                  expireBefore: policy.expireDays.flatMap { $0 > 0 ? now.addingTimeInterval(-Double($0) * 86400) : nil })
        }
        do {
            var session: MailboxSession
            do {
                session = try take()
            } catch LockRefusal.inUse(let holder) where policy.reconnectWins && holder.kind == .session && !holder.session.isEmpty {
                guard let won = try reconnect(holder: holder, take) else { throw LockRefusal.inUse(holder) }
                session = won
            }
            let messages = session.messages.map { POP3Message(uidl: $0.uidl, size: $0.size) }
            Counter(label: "poplar_lock_acquired_total").increment()
            if session.tookOver { Counter(label: "poplar_lock_takeovers_total").increment() }
            // Under the lock: the next login anywhere in the cluster measures its delay from now.
            if policy.loginDelay > 0 { try? store.recordLogin(address, at: now) }
            return Result(outcome: .success(mailbox: address.description, messages: messages), session: session, label: "success",
                          policy: policy)
        } catch let refusal as LockRefusal {
            switch refusal {
            case .inUse(let owner):
                Counter(label: "poplar_lock_contended_total").increment()
                return Result(outcome: .inUse(Self.describe(owner)), session: nil, label: "in-use")
            case .adminLocked:
                return Result(outcome: .adminLocked, session: nil, label: "locked")
            }
        } catch let error as StoreError where error.code == .notFound {
            // Removed between the password check and the lock.
            return Result(outcome: .badCredentials, session: nil, label: "bad-credentials")
        }
    }

    /// Reconnect wins (the domain's policy; the password was checked): asks the holding session's node to end it, as
    /// `poplar cluster kick` does (no UPDATE: nothing deleted, so two sessions never delete in one mailbox), and
    /// takes the lock when it is given back, within `reconnectWait`. Nil: still held (a dead or cut-off holder's
    /// node cannot answer; its lease runs its course), or someone else took it meanwhile.
    private func reconnect(holder: OwnerRecord, _ take: () throws -> MailboxSession) throws -> MailboxSession? {
        do { try store.requestKick(node: holder.node, session: holder.session) } catch { return nil }
        Counter(label: "poplar_reconnect_kicks_total").increment()
        let deadline = Date().addingTimeInterval(reconnectWait)
        while Date() < deadline {
            Thread.sleep(forTimeInterval: 0.2)
            do {
                return try take()
            } catch LockRefusal.inUse(let now) where now.session == holder.session || now.node == "unknown" {
                continue  // still the same session, or its release under way
            } catch is LockRefusal {
                return nil
            }
        }
        return nil
    }

    /// `auth.autocreate`: the mailbox of an account the directory just accepted, external (no password record).
    private func createExternalMailboxIfMissing(_ address: MailboxAddress) throws {
        guard try !store.mailboxExists(address) else { return }
        do {
            try store.createMailbox(address, password: nil, allowAPOP: false, quota: nil)
            Counter(label: "poplar_mailboxes_autocreated_total").increment()
        } catch let e as StoreError where e.code == .alreadyExists {}  // another node's login at the same moment
    }

    /// LOGIN-DELAY (RFC 2449 §6.5): whole seconds still to wait since the mailbox's last login, nil when none.
    private func loginDelayRemaining(_ address: MailboxAddress, policy: DomainPolicy, now: Date) throws -> Int? {
        guard let last = try store.lastLogin(address) else { return nil }
        let remaining = Double(policy.loginDelay) - now.timeIntervalSince(last)
        return remaining > 0 ? Int(remaining.rounded(.up)) : nil
    }

    /// A record that is not there is an unknown user; any other store failure is temporary, never "bad password".
    static func missingAsNil<T>(_ body: () throws -> T) throws -> T? {
        do { return try body() } catch let e as StoreError where e.code == .notFound || e.code == .corrupt { return nil }
    }

    static func describe(_ owner: OwnerRecord) -> String {
        let since = ISO8601DateFormatter().string(from: owner.since)
        return "mailbox in use by a session on node \(owner.node) since \(since)"
    }

    static func temporaryText(_ error: StoreError) -> String {
        switch error.code {
        case .noSpace: return "mail store is full, try again later"
        default: return "mail store unavailable, try again later"
        }
    }

}

extension Sequence where Element == UInt8 {
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
