import Foundation
import Metrics
import NIOCore
import POP3Core

/// A login under the cluster-wide auth penalty (`AuthPenalty`): `admit` before the check says when it may run (or
/// refuses it), `authenticate(_:sessionID:ticket:)` checks and counts the outcome. Both block (store calls).
extension Authenticator {
    public struct LoginTicket: Sendable {
        var penalty: AuthPenalty.Ticket?
        /// How long the check waits for its slot.
        public var wait: TimeAmount = .zero
        /// How long after the check began a failure is answered; nil: the node's failure delay.
        public var failureDelay: TimeAmount?
        /// Set when the penalty refuses the login unchecked.
        public var refusal: Result?
    }

    public func admit(_ credentials: POP3Credentials, peer: SocketAddress?, now: Date = Date()) -> LoginTicket {
        guard let penalty, let network = penalty.network(of: peer) else { return LoginTicket() }
        do {
            switch try penalty.admit(network: network, user: credentials.loginName, now: now) {
            case .refuse:
                Counter(label: "poplar_auth_penalty_refused_total").increment()
                return LoginTicket(refusal: Result(outcome: .temporaryFailure("too many failed logins from your address, try again later"),
                                                   session: nil, label: "penalty"))
            case .check(let ticket):
                let wait = max(0, ticket.slot.timeIntervalSince(now))
                if wait > 0 { Counter(label: "poplar_auth_penalty_waits_total").increment() }
                return LoginTicket(penalty: ticket, wait: .nanoseconds(Int64(wait * 1e9)),
                                   failureDelay: .nanoseconds(Int64(ticket.failureDelay * 1e9)))
            }
        } catch {
            // Records that cannot be read or written do not stop logins: the store's own failure answers those.
            return LoginTicket()
        }
    }

    public func authenticate(_ credentials: POP3Credentials, sessionID: String, ticket: LoginTicket) -> Result {
        var result = authenticate(credentials, sessionID: sessionID)
        guard let penalty, let record = ticket.penalty else { return result }
        do {
            switch result.outcome {
            case .success: try penalty.succeeded(record)
            case .badCredentials: try penalty.failed(record)
            default: break  // in use, locked, temporary: no guess was answered
            }
        } catch {
            result.detail = result.detail ?? "auth penalty record not written: \(error)"
        }
        return result
    }
}

extension POP3Credentials {
    /// The name the client logs in as (every mechanism but a bearer token names one before the check).
    var loginName: String? {
        switch self {
        case .password(let u, _), .apop(let u, _, _), .cramMD5(let u, _, _), .scram(let u, _), .ntlm(let u, _, _, _): return u
        case .bearer(let named, _): return named
        }
    }
}
