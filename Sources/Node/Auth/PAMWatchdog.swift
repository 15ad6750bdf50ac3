import Dispatch
import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// Runs each PAM transaction on a thread of its own and waits for it at most the auth timeout: a hung module (a
/// network directory behind PAM, a `pam_exec` script) costs one stuck thread, not a pool thread or a login forever.
/// A transaction past its timeout is abandoned and finishes on its own; while `maxStuck` of them are still running,
/// new logins are refused as unavailable rather than piling up threads. (Transactions within their timeout are
/// bounded by the thread pool the logins run on; so PAM threads number at most `maxStuck` plus the pool's size, give
/// or take the logins that pass the check together.)
final class PAMWatchdog: Sendable {
    enum Outcome: Equatable {
        case finished(AuthVerdict)
        case timedOut
        /// Refused before starting: this many abandoned transactions are still running.
        case tooManyStuck(Int)
    }

    let maxStuck: Int
    private let stuck = NIOLockedValueBox(0)

    init(maxStuck: Int) {
        self.maxStuck = maxStuck
    }

    /// Abandoned transactions still running.
    var stuckCount: Int { stuck.withLockedValue { $0 } }

    /// Runs `body` on a new thread; `body` is not run at all when the answer is `.tooManyStuck`.
    func run(timeout: TimeAmount, _ body: @escaping @Sendable () -> AuthVerdict) -> Outcome {
        let already = stuck.withLockedValue { $0 }
        guard already < maxStuck else { return .tooManyStuck(already) }
        let handoff = Handoff()
        let stuck = self.stuck
        let thread = Thread {
            let verdict = body()
            handoff.finish(verdict, stuck: stuck)
        }
        thread.name = "poplar-pam"
        thread.start()
        let deadline = DispatchTime.now() + .nanoseconds(Int(max(0, timeout.nanoseconds)))
        if handoff.done.wait(timeout: deadline) == .success, let verdict = handoff.verdict {
            return .finished(verdict)
        }
        return handoff.abandon(stuck: stuck).map(Outcome.finished) ?? .timedOut
    }

    /// Between the waiting login and its transaction thread. Lock order: the handoff's state, then `stuck`.
    private final class Handoff: Sendable {
        enum State { case running, finished(AuthVerdict), abandoned }
        let state = NIOLockedValueBox(State.running)
        let done = DispatchSemaphore(value: 0)

        var verdict: AuthVerdict? {
            state.withLockedValue { if case .finished(let v) = $0 { return v } else { return nil } }
        }

        /// On the transaction thread: hand the verdict over, or, if the login gave up, count this thread unstuck.
        func finish(_ verdict: AuthVerdict, stuck: NIOLockedValueBox<Int>) {
            state.withLockedValue { state in
                if case .abandoned = state {
                    stuck.withLockedValue { $0 -= 1 }
                } else {
                    state = .finished(verdict)
                }
            }
            done.signal()
        }

        /// On the login's thread after the timeout: the verdict if it came just now, else nil and one more stuck thread.
        func abandon(stuck: NIOLockedValueBox<Int>) -> AuthVerdict? {
            state.withLockedValue { state in
                if case .finished(let v) = state { return v }
                state = .abandoned
                stuck.withLockedValue { $0 += 1 }
                return nil
            }
        }
    }
}
