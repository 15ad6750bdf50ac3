import CPAM
import Logging
import NIOConcurrencyHelpers
import NIOCore
import POP3Core
import SharedStore

/// The machine's own accounts through PAM (`auth.backend pam`, the seed's "local accounts"): the login
/// `USER@DOMAIN` is the system account `USER` (a valid Unix name, `UnixUserName`), checked by the PAM service
/// `auth.pam.service` (authentication, then account management) and, when `auth.pam.group` is set, by membership of
/// that group (`UnixGroupGate`). The Authenticator then serves the mailbox USER@DOMAIN. Each transaction runs on its
/// own thread, bounded by `AuthConfiguration.timeout` (`PAMWatchdog`). Poplar stores nothing of the password; its
/// copies for the conversation are wiped when the transaction ends.
public final class PAMBackend: AuthBackend {
    public let settings: PAMSettings
    public let timeout: TimeAmount
    public var name: String { "pam" }
    /// APOP and CRAM-MD5 need the password itself; PAM only checks one.
    public var supportsSharedSecrets: Bool { false }

    /// Transactions abandoned after their timeout and still running, at most; then logins are unavailable.
    public static let defaultMaxStuckTransactions = 8
    /// PAM_MAX_RESP_SIZE: a longer password cannot be a PAM account's (pam_unix refuses it too).
    public static let maxPasswordBytes = Int(PAM_MAX_RESP_SIZE)

    let gate: UnixGroupGate?
    let watchdog: PAMWatchdog
    private let logger: Logger
    /// PAM transactions started (for tests: a name refused by the rules never reaches PAM).
    private let started = NIOLockedValueBox(0)

    public init(settings: PAMSettings, timeout: TimeAmount = AuthConfiguration.defaultTimeout,
                maxStuckTransactions: Int = PAMBackend.defaultMaxStuckTransactions,
                logger: Logger = Logger(label: "poplar.auth.pam")) {
        self.settings = settings
        self.timeout = timeout
        self.gate = settings.group.map(UnixGroupGate.init(group:))
        self.watchdog = PAMWatchdog(maxStuck: maxStuckTransactions)
        self.logger = logger
    }

    var transactionsStarted: Int { started.withLockedValue { $0 } }
    var stuckTransactions: Int { watchdog.stuckCount }

    /// At start: the service's file and the group must exist, so that a wrong setting stops the node.
    public func checkConfiguration() throws {
        if let problem = PAMServiceFile.problem(settings.service) ?? gate?.problem() {
            throw NodeError.configuration("auth backend pam: \(problem)")
        }
    }

    /// The Unix account named by the local part, in the group (NSS lookups, under the timeout).
    public func lookupAccount(_ address: MailboxAddress) -> AccountLookup {
        let user = address.mailbox
        guard UnixUserName.isValid(user) else { return .unknown }
        let gate = self.gate
        let outcome = watchdog.run(timeout: timeout) { () -> AuthVerdict in
            do {
                guard try UnixAccounts.primaryGroup(ofUser: user) != nil else { return .rejected }
            } catch {
                return .unavailable("account \(user): \(error)")
            }
            switch gate?.admits(user) ?? .member {
            case .member: return .accepted
            case .notMember: return .rejected
            case .unavailable(let why): return .unavailable(why)
            }
        }
        switch outcome {
        case .finished(.accepted): return .exists
        case .finished(.rejected): return .unknown
        case .finished(.unavailable(let why)): return .unavailable(why)
        case .timedOut: return .unavailable("timed out")
        case .tooManyStuck(let count): return .unavailable("\(count) lookups are still running past the timeout")
        }
    }

    public func verify(_ credentials: POP3Credentials, address: MailboxAddress) -> AuthVerdict {
        guard case .password(_, let password) = credentials else { return .rejected }
        let user = address.mailbox
        guard !password.isEmpty, password.utf8.count <= Self.maxPasswordBytes, UnixUserName.isValid(user),
              let secret = PAMConversationCredentials(user: user, password: password)
        else { return .rejected }
        if let problem = PAMServiceFile.problem(settings.service) {
            secret.wipe()
            logger.error("PAM is misconfigured: \(problem)")
            return .unavailable(problem)
        }
        let service = settings.service, gate = self.gate, started = self.started, logger = self.logger
        // Everything that may block (NSS lookups of the group, the PAM modules) runs under the timeout.
        let outcome = watchdog.run(timeout: timeout) {
            defer { secret.wipe() }
            if let problem = gate?.problem() {
                logger.error("PAM is misconfigured: \(problem)")
                return .unavailable(problem)
            }
            started.withLockedValue { $0 += 1 }
            let verdict = PAMTransaction(service: service).run(secret)
            guard verdict == .accepted, let gate else { return verdict }
            switch gate.admits(user) {
            case .member: return .accepted
            case .notMember: return .rejected
            case .unavailable(let why): return .unavailable(why)
            }
        }
        switch outcome {
        case .finished(let verdict):
            return verdict
        case .timedOut:
            logger.warning("PAM service \(service) did not answer within the auth timeout")
            return .unavailable("timed out")
        case .tooManyStuck(let count):
            secret.wipe()
            return .unavailable("\(count) PAM transactions are still running past the timeout")
        }
    }
}
